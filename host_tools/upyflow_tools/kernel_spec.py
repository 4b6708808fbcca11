"""The one declared contract between the lowerings and the device kernels.

Per kernel: its family (the operator: the same stem in every tier), its tensors in
argument order and its int/float parameters in argument order, with the ranges and
sizes a call must satisfy. Everything positional is derived from here:
`python -m upyflow_tools.gen_kernels` (make kernels) writes the C kernel table
(native_modules/src/table.c: named indices, per-kernel checks, signatures), the
dispatch family maps and the viper kernels' typed defs or tuple prologues;
lower.core.Call binds keyword arguments to positions and checks the ranges at bake time; tests/test_kernel_spec.py
compares the pure, viper and C signatures with it. Adding a parameter is one edit here
plus the kernel bodies (then `make kernels`).

Tensors: dtype i8/u8/i16/i32/u32/i64/u64/f32, or "q" (int8 or int16, element size from
the `esize` variable) / "any" (width from `esize`); access "r" (an arena tensor read
directly, so aligned), "w" (written), or "c" (may be a constant anywhere in the
weights: the C kernels read it through load.h, so only its length is checked); size:
the element count a call needs, a Python expression over parameter names (None: a
custom check covers it). `values` bounds the int32 values a constant holds (checked at
bake time and by the C table).

Ints: [lo, hi] (None: unbounded); `what` names the parameter in bake errors.
Expressions (sizes, requires, derived values) are Python syntax over parameter names
and are translated by gen_kernels into table.c's check programs (run by checks.h): + - * // %
and comparisons, `and`/`or`, `a if c else b`, `x in (1, 2)`, and calls of the checks.h
helpers listed in gen_kernels.HELPERS.
"""
from __future__ import annotations

from dataclasses import dataclass

# bytes per element of each fixed-width dtype
ESIZE = {"i8": 1, "u8": 1, "i16": 2, "i32": 4, "u32": 4, "f32": 4, "i64": 8, "u64": 8}
SHIFT = (-31, 30)       # the int32 requantization's shift (TFLM's MultiplyByQuantizedMultiplier)
INT_MAX = (1 << 31) - 1


@dataclass(frozen=True)
class Values:
    lo: int
    hi: int | str               # an int, or an expression over the int parameters
    what: str
    at: str | None = None       # "start:stop:step" element indices; None: every element of size


@dataclass(frozen=True)
class T:
    name: str
    dtype: str
    access: str                 # r, w or c (see the module doc)
    size: str | None = None     # elements needed, an expression over the parameters
    esize: str | None = None    # for dtype q/any: the element size, a variable or expression
    values: Values | None = None


@dataclass(frozen=True)
class P:
    name: str
    kind: str                   # "i" int32 or "f" float32
    lo: int | None = None
    hi: int | None = None
    what: str = ""
    fast: bool = True           # the C and viper kernels take it (False: only the pure kernel and checks)


def Int(name: str, lo: int | None = None, hi: int | None = None, what: str = "", fast: bool = True) -> P:
    return P(name, "i", lo, hi, what, fast)


def Float(name: str) -> P:
    return P(name, "f")


@dataclass(frozen=True)
class Kernel:
    name: str
    family: str
    tensors: tuple[T, ...]
    params: tuple[P, ...]
    requires: tuple[str, ...] = ()      # boolean expressions, checked before the sizes
    derived: tuple[tuple[str, str], ...] = ()   # C-only values: (name, expression), computed first
    c_extra: tuple[str, ...] = ()       # derived values passed after the parameters to the C kernel
    checks: tuple[str, ...] = ()        # checks.h calls returning an error code, after the sizes
    native: bool = True                 # in the C table
    native_run: str | None = None       # a hand-written C run function instead of a generated one
    # A @micropython.viper implementation: True, called fn(*args) with typed parameters (the spec's
    # names; gen_kernels writes its def); "tuple", called fn(args) with one tuple its generated
    # prologue unpacks: kernels sharing one walk behind a flag, and those whose loops want the
    # registers viper gives the first locals, which typed parameters would take (dispatch.py).
    viper: bool | str = False

    @property
    def ints(self) -> tuple[P, ...]:
        return tuple(p for p in self.params if p.kind == "i")

    @property
    def floats(self) -> tuple[P, ...]:
        return tuple(p for p in self.params if p.kind == "f")

    @property
    def arg_names(self) -> list[str]:
        return [t.name for t in self.tensors] + [p.name for p in self.params]

    @property
    def signature(self) -> str:
        """The C table's signature: r/w per tensor (constants are read), then i/f per parameter."""
        return "".join("w" if t.access == "w" else "r" for t in self.tensors) + \
            "".join(p.kind for p in self.params)

    def tensor_index(self, name: str) -> int:
        return [t.name for t in self.tensors].index(name)

    def param_index(self, name: str) -> int:
        return [p.name for p in self.params].index(name)


KERNELS: dict[str, Kernel] = {}


def kernel(name: str, family: str, tensors: list[T], params: list[P], *, requires=(), derived=(), c_extra=(),
           checks=(), native: bool = True, native_run: str | None = None, viper: bool | str = False) -> Kernel:
    """Declare a kernel (see Kernel); lists become tuples."""
    k = Kernel(name, family, tuple(tensors), tuple(params), tuple(requires), tuple(derived), tuple(c_extra),
               tuple(checks), native, native_run, viper)
    names = k.arg_names + [d for d, _ in k.derived]
    assert len(set(names)) == len(names), name
    assert name not in KERNELS, name
    KERNELS[name] = k
    return k


def shifts(hi: int | str = SHIFT[1]) -> Values:
    """Every element a requantization shift: [-31, 30], or [-31, 14] for the int64 one (it shifts
    right by 15 - shift)."""
    return Values(SHIFT[0], hi, "requantization shift")


# --- shared parameter groups --------------------------------------------------------------
def _conv_dims(channels: str) -> list[P]:
    return [Int("in_h", 0), Int("in_w", 0), Int("in_c", 0), Int("out_h", 0), Int("out_w", 0), Int(channels, 0),
            Int("k_h", 1), Int("k_w", 1), Int("s_h", 1), Int("s_w", 1), Int("d_h", 1), Int("d_w", 1),
            Int("pad_h", 0), Int("pad_w", 0)]


# The input rows/columns a conv reaches, out * stride + kernel * dilation + pad, fit an
# int (the C kernels index with int arithmetic: no signed overflow).
CONV_SPANS = ("out_h*s_h + k_h*d_h + pad_h <= 0x7FFFFFFF", "out_w*s_w + k_w*d_w + pad_w <= 0x7FFFFFFF")
TCONV_DIMS = [Int("in_h", 0), Int("in_w", 0), Int("in_c", 0), Int("out_h", 0), Int("out_w", 0), Int("out_c", 0),
              Int("k_h", 1), Int("k_w", 1), Int("s_h", 1), Int("s_w", 1), Int("pad_h", 0), Int("pad_w", 0)]
POOL_DIMS = [Int("in_h", 0), Int("in_w", 0), Int("c", 0), Int("out_h", 0), Int("out_w", 0),
             Int("k_h", 1), Int("k_w", 1), Int("s_h", 1), Int("s_w", 1), Int("pad_h", 0), Int("pad_w", 0)]
INT_ACT = [Int("act_min"), Int("act_max")]
FLOAT_ACT = [Float("act_min"), Float("act_max")]
# An int8 kernel's input offset (minus the input zero point) and output zero point: TFLite's
# int8 zero points are in [-128, 127] (the C kernels' int32 sums assume it).
I8_IN_OFF, I8_OUT_OFF = (-127, 128), (-128, 127)
QUANT_OUT = [Int("in_off", *I8_IN_OFF), Int("out_off", *I8_OUT_OFF)]


def _shift(name: str, what: str = "requantization shift") -> P:
    return Int(name, SHIFT[0], SHIFT[1], what)


# --- fc -------------------------------------------------------------------------------------
FC_DIMS = [Int("batches", 0), Int("n_in", 0), Int("n_out", 0)]
kernel("fully_connected_s8", "fc",
       [T("x", "i8", "r", "batches*n_in"), T("w", "i8", "r", "n_out*n_in"), T("bias", "i32", "c", "n_out"),
        T("out", "i8", "w", "batches*n_out"), T("mult", "i32", "c", "n_out"),
        T("shift", "i32", "c", "n_out", values=shifts())],
       FC_DIMS + [Int("out_off", *I8_OUT_OFF)] + INT_ACT, viper="tuple")
kernel("fully_connected_f32", "fc",
       [T("x", "f32", "r", "batches*n_in"), T("w", "f32", "c", "n_out*n_in"), T("bias", "f32", "c", "n_out"),
        T("out", "f32", "w", "batches*n_out")],
       FC_DIMS + FLOAT_ACT)
kernel("fully_connected_s16", "fc",
       [T("x", "i16", "r", "batches*n_in"), T("w", "i8", "r", "n_out*n_in"), T("bias", "i64", "c", "n_out"),
        T("out", "i16", "w", "batches*n_out"), T("mult", "i32", "c", "n_out"),
        T("shift", "i32", "c", "n_out", values=shifts("14 if acc64 else 30"))],
       FC_DIMS + [Int("out_off"), Int("acc64", 0, 1)] + INT_ACT, viper="tuple")
kernel("fully_connected_s8_ort", "fc",
       [T("x", "i8", "r", "batches*n_in"), T("w", "i8", "r", "n_out*n_in"), T("bias", "i32", "c", "n_out"),
        T("out", "i8", "w", "batches*n_out"), T("scale", "f32", "c", "n_out")],
       FC_DIMS + [Int("out_off", *I8_OUT_OFF)] + INT_ACT)

# BATCH_MATMUL: out[b][i][j] = sum over t of lhs[lo + i*lsi + t*lsk] * rhs[ro + t*rsk + j*rsj], (lo, ro) the
# b-th offset pair of d (broadcast batches and adj_x/adj_y resolved at bake time into offsets and
# strides); either operand may be a constant. int8 accumulates in int32, int16 in int64 (as TFLM).
_BMM = [Int("nb", 0), Int("m", 1), Int("n", 1), Int("k", 1), Int("lsi", 0), Int("lsk", 0), Int("rsk", 0),
        Int("rsj", 0)]
kernel("batch_matmul_q", "fc",
       [T("lhs", "q", "c", None, "esize"), T("rhs", "q", "c", None, "esize"), T("d", "i32", "c", "2*nb"),
        T("out", "q", "w", "nb*m*n", "esize")],
       _BMM + [Int("esize", 1, 2), Int("lhs_off"), Int("rhs_off"), Int("mult"), _shift("shift"), Int("out_off"),
               Int("act_min"), Int("act_max")],
       requires=["esize == 1 or shift <= 14"],
       checks=["matmul_check(lhs, rhs, d, nb, m, n, k, lsi, lsk, rsk, rsj, esize)"])
kernel("batch_matmul_f32", "fc",
       [T("lhs", "f32", "c"), T("rhs", "f32", "c"), T("d", "i32", "c", "2*nb"), T("out", "f32", "w", "nb*m*n")],
       _BMM, checks=["matmul_check(lhs, rhs, d, nb, m, n, k, lsi, lsk, rsk, rsj, 4)"])

# --- conv -----------------------------------------------------------------------------------
_W = "out_c*k_h*k_w*in_c"
_DW_W, _DW_C = "k_h*k_w*in_c*depth_mult", "in_c*depth_mult"
# wtab: an optional scratch of wtab_n int32 words (planner.place_scratch: arena bytes free during
# the call, else 0 words) a kernel may use for a weight table (the Cortex-M0+ pointwise layers of
# more than 32 inputs: conv.c's conv1x1_wtab_m0) and every other tier ignores. The depthwise
# kernel has the slot too (always 0 words) as the viper tier walks both behind one prologue.
# w_min: the layer's smallest weight, known at bake time (the Cortex-M0+ fused pointwise kernels
# split their lanes with a carry, exact only without a weight at -128; -128 where unknown).
_WTAB = T("wtab", "i32", "w", "wtab_n")
_W_MIN = Int("w_min", -128, 127)
kernel("conv2d_s8", "conv",
       [T("x", "i8", "r", "in_h*in_w*in_c"), T("w", "i8", "r", _W), T("bias", "i32", "c", "out_c"),
        T("out", "i8", "w", "out_h*out_w*out_c"), T("mult", "i32", "c", "out_c"),
        T("shift", "i32", "c", "out_c", values=shifts()), _WTAB],
       _conv_dims("out_c") + QUANT_OUT + INT_ACT + [Int("wtab_n", 0), _W_MIN], requires=CONV_SPANS,
       viper="tuple")
kernel("depthwise_conv2d_s8", "conv",
       [T("x", "i8", "r", "in_h*in_w*in_c"), T("w", "i8", "r", _DW_W), T("bias", "i32", "c", _DW_C),
        T("out", "i8", "w", "out_h*out_w*" + _DW_C), T("mult", "i32", "c", _DW_C),
        T("shift", "i32", "c", _DW_C, values=shifts()), _WTAB],
       _conv_dims("depth_mult") + QUANT_OUT + INT_ACT + [Int("wtab_n", 0), _W_MIN], requires=CONV_SPANS,
       viper="tuple")
kernel("conv2d_f32", "conv",
       [T("x", "f32", "r", "in_h*in_w*in_c"), T("w", "f32", "c", _W), T("bias", "f32", "c", "out_c"),
        T("out", "f32", "w", "out_h*out_w*out_c")],
       _conv_dims("out_c") + FLOAT_ACT, requires=CONV_SPANS)
kernel("depthwise_conv2d_f32", "conv",
       [T("x", "f32", "r", "in_h*in_w*in_c"), T("w", "f32", "c", _DW_W), T("bias", "f32", "c", _DW_C),
        T("out", "f32", "w", "out_h*out_w*" + _DW_C)],
       _conv_dims("depth_mult") + FLOAT_ACT, requires=CONV_SPANS)
kernel("conv2d_s16", "conv",
       [T("x", "i16", "r", "in_h*in_w*in_c"), T("w", "i8", "r", _W), T("bias", "i64", "c", "out_c"),
        T("out", "i16", "w", "out_h*out_w*out_c"), T("mult", "i32", "c", "out_c"),
        T("shift", "i32", "c", "out_c", values=shifts("14 if acc64 else 30"))],
       _conv_dims("out_c") + [Int("acc64", 0, 1)] + INT_ACT, requires=CONV_SPANS, viper="tuple")
kernel("depthwise_conv2d_s16", "conv",
       [T("x", "i16", "r", "in_h*in_w*in_c"), T("w", "i8", "r", _DW_W), T("bias", "i64", "c", _DW_C),
        T("out", "i16", "w", "out_h*out_w*" + _DW_C), T("mult", "i32", "c", _DW_C),
        T("shift", "i32", "c", _DW_C, values=shifts(14))],
       _conv_dims("depth_mult") + INT_ACT, requires=CONV_SPANS + (_DW_C + " <= 0x7FFFFFFF",), viper="tuple")
kernel("conv2d_s8_ort", "conv",
       [T("x", "i8", "r", "in_h*in_w*in_c"), T("w", "i8", "r", _W), T("bias", "i32", "c", "out_c"),
        T("out", "i8", "w", "out_h*out_w*out_c"), T("scale", "f32", "c", "out_c")],
       _conv_dims("out_c") + QUANT_OUT + INT_ACT, requires=CONV_SPANS)
kernel("depthwise_conv2d_s8_ort", "conv",
       [T("x", "i8", "r", "in_h*in_w*in_c"), T("w", "i8", "r", _DW_W), T("bias", "i32", "c", _DW_C),
        T("out", "i8", "w", "out_h*out_w*" + _DW_C), T("scale", "f32", "c", _DW_C)],
       _conv_dims("depth_mult") + QUANT_OUT + INT_ACT, requires=CONV_SPANS)

# --- transpose_conv ---------------------------------------------------------------------------
kernel("transpose_conv_s8", "transpose_conv",
       [T("x", "i8", "r", "in_h*in_w*in_c"), T("w", "i8", "r", _W), T("bias", "i32", "c", "out_c"),
        T("out", "i8", "w", "out_h*out_w*out_c"), T("mult", "i32", "c", "out_c"),
        T("shift", "i32", "c", "out_c", values=shifts())],
       TCONV_DIMS + QUANT_OUT + INT_ACT, viper="tuple")
kernel("transpose_conv_s16", "transpose_conv",
       [T("x", "i16", "r", "in_h*in_w*in_c"), T("w", "i8", "r", _W), T("bias", "i64", "c", "out_c"),
        T("out", "i16", "w", "out_h*out_w*out_c"), T("mult", "i32", "c", "out_c"),
        T("shift", "i32", "c", "out_c", values=shifts(14))],
       TCONV_DIMS + INT_ACT)
kernel("transpose_conv_f32", "transpose_conv",
       [T("x", "f32", "r", "in_h*in_w*in_c"), T("w", "f32", "c", _W), T("bias", "f32", "c", "out_c"),
        T("out", "f32", "w", "out_h*out_w*out_c")],
       TCONV_DIMS + FLOAT_ACT)

# --- pool -------------------------------------------------------------------------------------
for _kind in ("avg", "max"):
    kernel(_kind + "_pool2d_s8", "pool", [T("x", "i8", "r", "in_h*in_w*c"), T("out", "i8", "w", "out_h*out_w*c")],
           POOL_DIMS + INT_ACT, viper="tuple")
    kernel(_kind + "_pool2d_f32", "pool", [T("x", "f32", "r", "in_h*in_w*c"), T("out", "f32", "w", "out_h*out_w*c")],
           POOL_DIMS + FLOAT_ACT)
# L2_POOL_2D: sqrt of the window's float32 sum of squares over its count of valid taps, as TFLM
kernel("l2_pool2d_f32", "pool", [T("x", "f32", "r", "in_h*in_w*c"), T("out", "f32", "w", "out_h*out_w*c")],
       POOL_DIMS + FLOAT_ACT)
kernel("avg_pool2d_s8_ort", "pool", [T("x", "i8", "r", "in_h*in_w*c"), T("out", "i8", "w", "out_h*out_w*c")],
       POOL_DIMS + [Int("in_zp"), Float("in_s"), Float("out_s"), Int("q_zp"), Int("q_shift"), Float("glob_scale")]
       + INT_ACT,
       native=False)

# --- softmax ----------------------------------------------------------------------------------
# The int8 kernels shift the scaled differences left by [0, 31] and treat diff_min <= 0 as the
# cut-off (a positive one would loop forever computing 1/0: the row maximum leaves the sum).
_SOFTMAX_Q = [Int("rows", 0), Int("depth", 1), Int("in_mult"), Int("in_shift", 0, 31, "input left shift"),
              Int("diff_min", None, 0)]
kernel("softmax_s8", "softmax", [T("x", "i8", "r", "rows*depth"), T("out", "i8", "w", "rows*depth")], _SOFTMAX_Q)
kernel("softmax_f32", "softmax", [T("x", "f32", "r", "rows*depth"), T("out", "f32", "w", "rows*depth")],
       [Int("rows", 0), Int("depth", 1), Float("beta")])
kernel("log_softmax_s8", "softmax", [T("x", "i8", "r", "rows*depth"), T("out", "i8", "w", "rows*depth")],
       [Int("rows", 0), Int("depth", 1), Int("in_mult"), Int("in_shift", 0, 31, "input left shift"), Int("rev_mult"),
        Int("rev_shift", -31, 0, "reverse scaling shift"), Int("diff_min", None, 0)])
kernel("log_softmax_f32", "softmax", [T("x", "f32", "r", "rows*depth"), T("out", "f32", "w", "rows*depth")],
       [Int("rows", 0), Int("depth", 1)])
kernel("softmax_s16", "softmax",
       [T("x", "i16", "r", "rows*depth"), T("exp_lut", "i16", "c", "513"), T("recip_lut", "i16", "c", "513"),
        T("out", "i16", "w", "rows*depth")],
       [Int("rows", 0), Int("depth", 1, 65536), Int("in_mult"), _shift("in_shift", "input shift")])
kernel("softmax_s8_s16", "softmax", [T("x", "i8", "r", "rows*depth"), T("out", "i16", "w", "rows*depth")],
       _SOFTMAX_Q)

# --- quantize (type conversions: QUANTIZE, DEQUANTIZE, CAST) ----------------------------------
kernel("quantize_f32", "quantize", [T("x", "f32", "r", "n"), T("out", "q", "w", None, "out_size")],
       [Int("n", 0), Float("scale"), Int("zp"), Int("qmin"), Int("qmax")],
       derived=[("out_size", "elem_size(out, n)")], requires=["out_size"], c_extra=["out_size"])
# int8/int16/int32 on either side (QUANTIZE int16 <-> int32)
kernel("requantize", "quantize", [T("x", "any", "r", None, "in_size"), T("out", "any", "w", None, "out_size")],
       [Int("n", 0), Int("in_zp"), Int("mult"), _shift("shift"), Int("out_zp"), Int("qmin"), Int("qmax")],
       derived=[("in_size", "int_size(x, n)"), ("out_size", "int_size(out, n)")],
       requires=["in_size and out_size"], c_extra=["in_size", "out_size"])
kernel("dequantize_f32", "quantize", [T("x", "q", "r", None, "in_size"), T("out", "f32", "w", "n")],
       [Int("n", 0), Float("scale"), Int("zp")],
       derived=[("in_size", "elem_size(x, n)")], requires=["in_size"], c_extra=["in_size"])
kernel("cast_int", "quantize", [T("x", "any", "r", "n", "si"), T("out", "any", "w", "n", "so")],
       [Int("n", 0), Int("in_code"), Int("out_code")],
       derived=[("si", "cast_size(in_code)"), ("so", "4 if out_code == 4 else cast_size(out_code)")],
       requires=["si and so"])
# CAST from float32: truncated toward zero and saturated to int8/int16/int32/uint32 (NaN -> 0), as
# the TFLM interpreter gives (C leaves out-of-range conversions undefined); out_code 4 copies
kernel("cast_f32", "quantize", [T("x", "f32", "r", "n"), T("out", "any", "w", "n", "so")],
       [Int("n", 0), Int("out_code", 0, 5)],
       derived=[("so", "4 if out_code == 4 else cast_size(out_code)")], requires=["so", "out_code != 1"])

# --- elementwise (broadcasting binary ops; descriptors checked by checks.h) --------------------
_BIN = [T("x1", "q", "c", None, "esize"), T("x2", "q", "c", None, "esize"), T("out", "q", "w", None, "esize"),
        T("d", "i32", "c")]
_BIN_CHECK = ["binary_check(x1, x2, out, d, esize)"]
# sign 1: ADD, -1: SUB, 0: SQUARED_DIFFERENCE (the scaled inputs' difference squared)
kernel("addsub_q", "elementwise", _BIN,
       [Int("esize", 1, 2), Int("sign"), Int("off1"), Int("m1"), Int("sh1", -31, 0, "input 1 shift"), Int("off2"),
        Int("m2"), Int("sh2", -31, 0, "input 2 shift"), Int("ls", 0, 20, "left shift"), Int("mo"),
        Int("sho", -31, 0, "output shift"),
        Int("ooff"), Int("lo"), Int("hi")], checks=_BIN_CHECK)
kernel("mul_q", "elementwise", _BIN,
       [Int("esize", 1, 2), Int("off1"), Int("off2"), Int("m"), _shift("sh"), Int("ooff"), Int("lo"), Int("hi")],
       checks=_BIN_CHECK)
# DIV int8 as TFLM (gemmlowp's reciprocal of the divisor); sh <= 22 keeps every exponent >= 0
kernel("div_q", "elementwise",
       [T("x1", "i8", "c"), T("x2", "i8", "c"), T("out", "i8", "w"), T("d", "i32", "c")],
       [Int("off1", *I8_IN_OFF), Int("off2", *I8_IN_OFF), Int("m", 0), Int("sh", -31, 22, "output shift"),
        Int("ooff", *I8_OUT_OFF), Int("lo"), Int("hi")], checks=["binary_check(x1, x2, out, d, 1)"])
kernel("binary_f32", "elementwise",
       [T("x1", "f32", "c"), T("x2", "f32", "c"), T("out", "f32", "w"), T("d", "i32", "c")],
       [Int("op", 0, 11), Float("lo"), Float("hi")], checks=["binary_check(x1, x2, out, d, 4)"])
kernel("maxmin_q", "elementwise", _BIN, [Int("esize", 1, 2), Int("is_max")], checks=_BIN_CHECK)
# GREATER..NOT_EQUAL (op 0..5), bool bytes out. kind 0: raw int8/int16/int32/bool values (esize
# 1, 2, 4), 1: float32, 2: int8 rescaled as TFLM ((x + off) << 8 times the input's scale).
kernel("compare_q", "elementwise",
       [T("x1", "any", "c", None, "esize"), T("x2", "any", "c", None, "esize"), T("out", "u8", "w"),
        T("d", "i32", "c")],
       [Int("esize", 1, 4), Int("op", 0, 5), Int("kind", 0, 2), Int("off1"), Int("m1"),
        Int("sh1", -31, 0, "input 1 shift"), Int("off2"), Int("m2"), Int("sh2", -31, 0, "input 2 shift")],
       requires=["esize != 3", "kind != 1 or esize == 4", "kind != 2 or esize == 1"],
       checks=["compare_check(x1, x2, out, d, esize)"])
kernel("binary_s8_ort", "elementwise", _BIN[:2] + [T("out", "i8", "w"), T("d", "i32", "c")],
       [Int("op"), Int("zp1"), Float("s1"), Int("zp2"), Float("s2"), Float("out_s"), Int("out_zp"), Int("lo"),
        Int("hi")], native=False)
# int32 ADD, SUB, MUL, MAXIMUM, MINIMUM, DIV, SQUARED_DIFFERENCE (op 0..6), wrapping as C int32
kernel("binary_i32", "elementwise",
       [T("x1", "i32", "c"), T("x2", "i32", "c"), T("out", "i32", "w"), T("d", "i32", "c")],
       [Int("op", 0, 6)], checks=["binary_check(x1, x2, out, d, 4)"])
# ADD_N int8 as TFLM: one call per input (stage 0 first, 1 next, 2 last) summing x - zp into the
# int32 acc (TFLM's sum starts at -zp: off + x + off on the first); the last scales acc << 19
# (each input's exact x * 2^20 / 2) by the output multiplier. The bake bounds |acc| below 2^12.
kernel("add_n_s8", "elementwise", [T("x", "i8", "c", "n"), T("acc", "i32", "w", "n"), T("out", "i8", "w", "n")],
       [Int("n", 0), Int("stage", 0, 2), Int("off", *I8_IN_OFF), Int("mo"), Int("sho", -31, 0, "output shift"),
        Int("ooff", *I8_OUT_OFF), Int("lo"), Int("hi")])

# --- reduce -----------------------------------------------------------------------------------
kernel("mean_q", "reduce", [T("x", "q", "c", None, "esize"), T("out", "q", "w", None, "esize"), T("d", "i32", "c")],
       [Int("esize", 1, 2), Int("in_zp"), Int("m"), _shift("sh"), Int("out_zp"), Int("count", 1, INT_MAX), Int("lo"),
        Int("hi")], checks=["mean_check(x, out, d, esize)"])
kernel("mean_f32", "reduce", [T("x", "f32", "r"), T("out", "f32", "w"), T("d", "i32", "c")],
       [Int("count", 1)], checks=["mean_check(x, out, d, 4)"])
# REDUCE_MAX / REDUCE_MIN: the same descriptor; quantized input and output share their parameters
kernel("reduce_maxmin_q", "reduce",
       [T("x", "q", "c", None, "esize"), T("out", "q", "w", None, "esize"), T("d", "i32", "c")],
       [Int("esize", 1, 2), Int("is_max", 0, 1)], checks=["mean_check(x, out, d, esize)"])
kernel("reduce_maxmin_f32", "reduce", [T("x", "f32", "r"), T("out", "f32", "w"), T("d", "i32", "c")],
       [Int("is_max", 0, 1)], checks=["mean_check(x, out, d, 4)"])
# ARG_MAX / ARG_MIN over one axis (the inner block): int8, int16 (esize 1, 2) or float32 (esize 4)
# in, the int32 index out (n of them); the first extreme wins, as TFLM's strict comparison
kernel("arg_maxmin", "reduce", [T("x", "any", "c", None, "esize"), T("out", "i32", "w", "n"), T("d", "i32", "c")],
       [Int("esize", 1, 4), Int("is_max", 0, 1), Int("n", 1, fast=False)], requires=["esize != 3"],
       checks=["mean_check(x, x, d, esize)"])
# CUMSUM along one axis: x as [pre][depth][post], running sums over depth (exclusive: the sum
# before each value; reverse: from the end). int8 as TFLM: the exact sum of x - zp from TFLM's
# starting -zp (off), its wrapping int32 sum << 19 scaled out; float32 summed in float32 from 0.
_CUMSUM = [Int("pre", 0), Int("depth", 1), Int("post", 0), Int("exclusive", 0, 1), Int("reverse", 0, 1)]
kernel("cumsum_s8", "reduce", [T("x", "i8", "c", "pre*depth*post"), T("out", "i8", "w", "pre*depth*post")],
       _CUMSUM + [Int("off", *I8_IN_OFF), Int("mo"), Int("sho", -31, 0, "output shift"), Int("ooff", *I8_OUT_OFF),
                  Int("lo"), Int("hi")])
kernel("cumsum_f32", "reduce", [T("x", "f32", "c", "pre*depth*post"), T("out", "f32", "w", "pre*depth*post")],
       _CUMSUM)
kernel("mean_s8_ort", "reduce", [T("x", "i8", "r"), T("out", "i8", "w"), T("d", "i32", "c")],
       [Int("in_zp"), Float("scale"), Int("out_zp"), Int("count"), Int("lo"), Int("hi")], native=False)

# --- layout (data movement) -------------------------------------------------------------------
# the input may be a constant (a CONCATENATION operand): only the output is aligned
kernel("strided_copy", "layout", [T("x", "any", "c", None, "esize"), T("out", "any", "w", None, "esize"),
                                  T("d", "i32", "c")],
       [Int("esize")], requires=["esize in (1, 2, 4)"], checks=["strided_check(x, out, d, esize)"])
kernel("fill_int", "layout", [T("out", "q", "w", None, "esize")], [Int("n", 0), Int("value")],
       derived=[("esize", "elem_size(out, n)")], requires=["esize"], c_extra=["esize"])
kernel("fill_f32", "layout", [T("out", "f32", "w", "n")], [Int("n", 0), Float("value")])
# n counts elements of any width: copy the input's bytes, n * size of them
# SELECT/SELECT_V2 with a computed condition: out[i] = x[i] where c[i] (bool bytes) is set, out[i]
# kept (the other operand, copied there first) elsewhere; n elements of esize bytes
kernel("select_elems", "layout", [T("c", "u8", "c", "n"), T("x", "any", "c", "n", "esize"),
                                  T("out", "any", "w", "n", "esize")],
       [Int("n", 0), Int("esize")], requires=["esize in (1, 2, 4)"])
kernel("copy_bytes", "layout", [T("x", "any", "c"), T("out", "any", "w", "n*size", "1")], [Int("n", 0)],
       derived=[("size", "byte_width(x, n)")], requires=["size >= 0"], c_extra=["size"])

# --- svdf -------------------------------------------------------------------------------------
_SVDF_DIMS = [Int("batch", 0), Int("n_in", 0), Int("n_filter", 0), Int("rank", 1), Int("mem", 1)]
_SVDF_Q = [Int("state_zp"), Int("out_zp"), Int("m1"), _shift("s1"), Int("m2"), _shift("s2")]
_SVDF_REQ = ["n_filter % rank == 0"]
kernel("svdf_s8_i16", "svdf",
       [T("x", "i8", "r", "batch*n_in"), T("wf", "i8", "r", "n_filter*n_in"), T("wt", "i16", "c", "n_filter*mem"),
        T("q", "i32", "c", "2*n_filter + n_filter//rank"), T("state", "i16", "w", "batch*n_filter*mem"),
        T("out", "i8", "w", "batch*(n_filter//rank)")],
       _SVDF_DIMS + _SVDF_Q, requires=_SVDF_REQ, viper="tuple")
kernel("svdf_s8_i8", "svdf",
       [T("x", "i8", "r", "batch*n_in"), T("wf", "i8", "r", "n_filter*n_in"), T("wt", "i8", "r", "n_filter*mem"),
        T("q", "i32", "c", "2*n_filter + n_filter//rank"), T("state", "i8", "w", "batch*n_filter*mem"),
        T("out", "i8", "w", "batch*(n_filter//rank)")],
       _SVDF_DIMS + _SVDF_Q, requires=_SVDF_REQ, viper="tuple")
kernel("svdf_f32", "svdf",
       [T("x", "f32", "r", "batch*n_in"), T("wf", "f32", "c", "n_filter*n_in"), T("wt", "f32", "c", "n_filter*mem"),
        T("bias", "f32", "c", "n_filter//rank"), T("state", "f32", "w", "batch*n_filter*mem"),
        T("out", "f32", "w", "batch*(n_filter//rank)")],
       _SVDF_DIMS + FLOAT_ACT, requires=_SVDF_REQ)

# --- lstm -------------------------------------------------------------------------------------
_LSTM_DIMS = [Int("batch", 0), Int("steps", 0), Int("n_in", 0), Int("n", 0, 0x3FFFFFF), Int("time_major", 0, 1)]
_LSTM_STATE = [T("hidden", "i8", "w", "batch*n"), T("cell", "i16", "w", "batch*n"),
               T("out", "i8", "w", "batch*steps*n")]
# q: the 2 x 4n folded biases, then per gate (multiplier, shift) pairs; table: the int16
# sigmoid table logistic_s16 reads (stored minus 32768), the one source of its values
kernel("lstm_s8", "lstm",
       [T("x", "i8", "r", "batch*steps*n_in"), T("w", "i8", "r", "4*n*n_in + 4*n*n"),
        T("q", "i32", "c", "8*n + 16", values=Values(SHIFT[0], SHIFT[1], "gate requantization shift",
                                                     "8*n + 1:8*n + 16:2")),
        T("table", "i16", "c", "256")] + _LSTM_STATE,
       _LSTM_DIMS + [Int("h_zp"), Int("m_fc"), _shift("s_fc"), Int("m_ig"), _shift("s_ig"), Int("m_out"),
                     _shift("s_out"), Int("qclip"), Int("tanh_mult"), Int("tanh_shift", 0, 30, "tanh shift")],
       viper=True)
kernel("lstm_f32", "lstm",
       [T("x", "f32", "r", "batch*steps*n_in"), T("w", "f32", "r", "4*n*n_in + 4*n*n"),
        T("bias", "f32", "r", "4*n"), T("hidden", "f32", "w", "batch*n"), T("cell", "f32", "w", "batch*n"),
        T("out", "f32", "w", "batch*steps*n")],
       _LSTM_DIMS + [Float("clip")])
# ONNX's GRU (no TFLite operator; readers/onnx/ops/rnn.py): w rows [input weights of gates z, r, h |
# their recurrent weights], bias [Wb (3n) | Rb (3n)]; hidden: the state, updated in place; scratch:
# 2n floats (z, then r * hidden or r). lbr: linear_before_reset; clip > 0 bounds the gates' inputs.
kernel("gru_f32", "lstm",
       [T("x", "f32", "r", "batch*steps*n_in"), T("w", "f32", "r", "3*n*n_in + 3*n*n"),
        T("bias", "f32", "r", "6*n"), T("hidden", "f32", "w", "batch*n"), T("scratch", "f32", "w", "2*n"),
        T("out", "f32", "w", "batch*steps*n")],
       _LSTM_DIMS + [Int("lbr", 0, 1), Float("clip")])

# --- activations ------------------------------------------------------------------------------
_F32_PAIR = [T("x", "f32", "r", "n"), T("out", "f32", "w", "n")]
kernel("lut_s8", "activations", [T("x", "i8", "r", "n"), T("table", "i8", "r", "256"), T("out", "i8", "w", "n")],
       [Int("n", 0)])
kernel("clamp_f32", "activations", _F32_PAIR, [Int("n", 0), Float("lo"), Float("hi")])
# ABS, NEG, SQRT, RSQRT, EXP, LOG, GELU, GELU tanh-approximated, FLOOR, CEIL, ROUND, ELU, SIN, COS
# (op 0..13)
kernel("unary_f32", "activations", _F32_PAIR, [Int("n", 0), Int("op", 0, 13)])
# L2_NORMALIZATION over the last axis (rows of depth values): int8 as TFLM's integer kernel (output
# scale 1/128, zero point 0), float32 with TFLM's epsilon 1e-6 under the norm
kernel("l2norm_s8", "activations", [T("x", "i8", "r", "rows*depth"), T("out", "i8", "w", "rows*depth")],
       [Int("rows", 0), Int("depth", 1), Int("in_zp")])
kernel("l2norm_f32", "activations", [T("x", "f32", "r", "rows*depth"), T("out", "f32", "w", "rows*depth")],
       [Int("rows", 0), Int("depth", 1)])
# RSQRT int16 (zero points 0) as TFLM's RsqrtEvalQuantized; (mult, shift) rescale TFLM's 1/sqrt(x) * 2^20
kernel("rsqrt_s16", "activations", [T("x", "i16", "r", "n"), T("out", "i16", "w", "n")],
       [Int("n", 0), Int("mult", 0), _shift("shift", "output shift")])
kernel("leaky_relu_q", "activations", [T("x", "q", "r", None, "esize"), T("out", "q", "w", "n", "esize")],
       [Int("n", 0), Int("in_zp"), Int("m_id"), _shift("s_id", "identity shift"), Int("m_al"),
        _shift("s_al", "alpha shift"), Int("neg"), Int("out_zp"), Int("qmin"), Int("qmax")],
       derived=[("esize", "elem_size(x, n)")], requires=["esize"], c_extra=["esize"])
kernel("leaky_relu_f32", "activations", _F32_PAIR, [Int("n", 0), Float("alpha")])
kernel("hard_swish_f32", "activations", _F32_PAIR, [Int("n", 0)])
for _name in ("logistic_s16", "tanh_s16"):
    # the sigmoid table is stored minus 32768
    kernel(_name, "activations",
           [T("x", "i16", "r", "n"), T("table", "i16", "c", "256"), T("out", "i16", "w", "n")],
           [Int("n", 0), Int("mult", 0, 65534, "input multiplier"), Int("shift", 0, 31, "input shift")])
kernel("logistic_f32", "activations", _F32_PAIR, [Int("n", 0)], native=False)
kernel("tanh_f32", "activations", _F32_PAIR, [Int("n", 0)], native=False)
# alpha holds (alpha - alpha zero point) repeating every `period` values
kernel("prelu_q", "activations",
       [T("x", "q", "r", None, "esize"), T("alpha", "i16", "c", "period"), T("out", "q", "w", "n", "esize")],
       [Int("n", 0), Int("period", 1, INT_MAX, "alpha period"), Int("in_zp"), Int("m1"), _shift("s1", "identity shift"),
        Int("m2"), _shift("s2", "alpha shift"), Int("out_zp"), Int("qmin"), Int("qmax")],
       derived=[("esize", "elem_size(x, n)")], requires=["esize"], c_extra=["esize"])
kernel("prelu_f32", "activations",
       [T("x", "f32", "r", "n"), T("alpha", "f32", "c", "period"), T("out", "f32", "w", "n")],
       [Int("n", 0), Int("period", 1)])

# --- resize (checked by hand-written run functions in resize.c) -------------------------------
_RESIZE = [Int("in_h", fast=False), Int("in_w"), Int("out_h"), Int("out_w"), Int("depth")]
kernel("resize_nearest", "resize",
       [T("x", "any", "r"), T("ymap", "i16", "c"), T("xmap", "i16", "c"), T("out", "any", "w")],
       _RESIZE + [Int("esize")], native_run="uf_run_resize_nearest", viper=True)
kernel("resize_bilinear_s8", "resize",
       [T("x", "i8", "r"), T("ytab", "i16", "c"), T("xtab", "i16", "c"), T("out", "i8", "w")],
       _RESIZE, native_run="uf_run_resize_bilinear_s8", viper=True)
kernel("resize_bilinear_f32", "resize",
       [T("x", "f32", "r"), T("ytab", "i16", "c"), T("yw", "f32", "c"), T("xtab", "i16", "c"),
        T("xw", "f32", "c"), T("out", "f32", "w")],
       _RESIZE, native_run="uf_run_resize_bilinear_f32")

# --- signal (TFLM Signal ops, the audio front end) ---------------------------------------------
kernel("signal_window_s16", "signal",
       [T("x", "i16", "r", "n"), T("w", "i16", "c", "wn"), T("out", "i16", "w", "n")],
       [Int("n", 0), Int("wn", 1), Int("shift", 0, 31)], requires=["n % wn == 0"], viper=True)
kernel("signal_fft_auto_scale_s16", "signal",
       [T("x", "i16", "r", "n"), T("out", "i16", "w", "n"), T("scale", "i32", "w", "1")], [Int("n", 0)], viper=True)
# t: the kissfft tables (factor plan, permutation, twiddles), checked by checks.h
kernel("signal_rfft_s16", "signal",
       [T("x", "i16", "r", "frames*n_in"), T("t", "i16", "c"), T("out", "i16", "w", "frames*(2*n + 2)")],
       [Int("frames", 0), Int("n_in", 0), Int("n", 2, 2048)], requires=["n_in <= 2*n", "(n & (n - 1)) == 0"],
       checks=["rfft_tables(t, n)"], viper=True)
kernel("signal_energy", "signal", [T("x", "i16", "r", "2*end"), T("out", "u32", "w", "end")],
       [Int("start", 0), Int("end")], requires=["start <= end"])
kernel("signal_filter_bank", "signal",
       [T("x", "u32", "r", "0"), T("t", "i16", "c", "2*nw + 3*(nch + 1)"), T("out", "u64", "w", "nch")],
       [Int("nch", 0), Int("nw", 0)], checks=["filter_bank_tables(x, t, nch, nw)"])
kernel("signal_filter_bank_sqrt", "signal",
       [T("x", "u64", "r", "n"), T("bits", "i32", "c", "1"), T("out", "u32", "w", "n")], [Int("n", 0)])
kernel("signal_spectral_subtraction", "signal",
       [T("x", "u32", "r", "n"), T("out", "u32", "w", "n"), T("noise", "u32", "w", "n"),
        T("state", "u32", "w", "n")],
       [Int("n", 0), Int("sm", 0), Int("oms", 0), Int("alt_sm", 0), Int("alt_oms", 0), Int("min_rem", 0),
        Int("sm_bits", 0, 31), Int("ss_bits", 0, 63), Int("clamping")])
kernel("signal_pcan", "signal",
       [T("x", "u32", "r", "n"), T("noise", "u32", "r", "n"), T("lut", "i16", "c", "4*32 - 3"),
        T("out", "u32", "w", "n")], [Int("n", 0), Int("snr_shift", 0, 63)])
kernel("signal_filter_bank_log", "signal",
       [T("x", "u32", "r", "n"), T("lut", "i16", "c", "130"), T("out", "i16", "w", "n")],
       [Int("n", 0), Int("out_scale", 0), Int("bits", 0, 31)])

# --- image (camera frame -> model input: called by upyflow.image, not by a model op) -----------
kernel("image_to_input", "image",
       [T("frame", "u8", "r"), T("ytab", "i32", "r"), T("xtab", "i32", "r"), T("lut", "u8", "r"),
        T("out", "any", "w")],
       [Int("fmt"), Int("in_w"), Int("in_h", fast=False), Int("out_h"), Int("out_w"), Int("out_c"), Int("bilinear"),
        Int("esize")], native_run="uf_run_image_to_input", viper=True)


NATIVE = [k for k in KERNELS.values() if k.native]
FAMILIES = sorted({k.family for k in KERNELS.values()})


def get(name: str) -> Kernel:
    try:
        return KERNELS[name]
    except KeyError:
        raise ValueError("no device kernel %r in kernel_spec" % name) from None
