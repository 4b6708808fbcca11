"""The declared kernel contract (upyflow_tools/kernel_spec.py) and what is generated from it.

Every positional copy of a kernel's arguments is checked against the spec: the generated
files are current, the C prototypes in kernels.h and the C table's signatures match it,
lowerings' Calls bind by name and bake refuses what the spec's ranges refuse.
"""

from __future__ import annotations

import ast
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from upyflow_tools import BakeError, gen_kernels, kernel_spec
from upyflow_tools.emit import OpRecord, pack_calls
from upyflow_tools.ir import Graph, Op, Tensor
from upyflow_tools.lower.core import Call, check_call

ROOT = Path(__file__).resolve().parents[1]
KERNELS_H = ROOT / "native_modules" / "src" / "kernels.h"

# The lead's family table (family = operator: the same stem in every tier).
FAMILIES = {
    "fc": "fully_connected_s8 fully_connected_f32 fully_connected_s16 fully_connected_s8_ort batch_matmul_q "
    "batch_matmul_f32",
    "conv": "conv2d_s8 depthwise_conv2d_s8 conv2d_f32 depthwise_conv2d_f32 conv2d_s16 depthwise_conv2d_s16 "
    "conv2d_s8_ort depthwise_conv2d_s8_ort",
    "transpose_conv": "transpose_conv_s8 transpose_conv_s16 transpose_conv_f32",
    "pool": "l2_pool2d_f32 avg_pool2d_s8 max_pool2d_s8 avg_pool2d_f32 max_pool2d_f32 avg_pool2d_s8_ort",
    "softmax": "softmax_s8 softmax_f32 softmax_s16 softmax_s8_s16 log_softmax_f32 log_softmax_s8",
    "quantize": "quantize_f32 requantize dequantize_f32 cast_int cast_f32",
    "elementwise": "addsub_q mul_q div_q binary_f32 maxmin_q compare_q binary_s8_ort binary_i32 add_n_s8",
    "reduce": "mean_q mean_f32 mean_s8_ort reduce_maxmin_q reduce_maxmin_f32 arg_maxmin cumsum_s8 cumsum_f32",
    "layout": "strided_copy fill_int fill_f32 copy_bytes select_elems",
    "svdf": "svdf_s8_i16 svdf_s8_i8 svdf_f32",
    "lstm": "lstm_s8 lstm_f32 gru_f32",
    "activations": "lut_s8 clamp_f32 unary_f32 leaky_relu_q leaky_relu_f32 hard_swish_f32 logistic_s16 tanh_s16 "
    "logistic_f32 tanh_f32 prelu_q prelu_f32 l2norm_s8 l2norm_f32 rsqrt_s16",
    "resize": "resize_nearest resize_bilinear_s8 resize_bilinear_f32",
    "signal": "signal_window_s16 signal_fft_auto_scale_s16 signal_rfft_s16 signal_energy signal_filter_bank "
    "signal_filter_bank_sqrt signal_spectral_subtraction signal_pcan signal_filter_bank_log",
    "image": "image_to_input",
}


def test_generated_files_are_current():
    stale = [str(p.relative_to(ROOT)) for p, text in gen_kernels.outputs().items() if p.read_text() != text]
    assert not stale, "generated from kernel_spec.py but out of date: %s; run make kernels" % ", ".join(stale)


def test_families_are_the_operator_table():
    assert {k.name: k.family for k in kernel_spec.KERNELS.values()} == {
        name: f for f, names in FAMILIES.items() for name in names.split()
    }


def _prototypes() -> dict[str, list[str]]:
    """uf_<kernel>(...) prototypes of kernels.h: the argument types, spaced alike. Kernels of
    one argument list may be declared through a function type: `typedef void uf_T_fn(...);`
    then `uf_T_fn uf_a, uf_b;`."""
    text = re.sub(r"//[^\n]*", "", KERNELS_H.read_text())
    protos = {
        m.group(1): [_c_type(re.sub(r"\b\w+\s*$", "", a)) for a in m.group(2).split(",")]
        for m in re.finditer(r"\b(?:void|float)\s+uf_(\w+)\(([^)]*)\);", text)
    }
    for m in re.finditer(r"^uf_(\w+_fn)\s+([^;]+);", text, re.M):
        for name in m.group(2).split(","):
            protos[name.strip()[len("uf_") :]] = protos[m.group(1)]
    return protos


def _c_type(t: str) -> str:
    return " ".join(t.replace("*", " * ").split())


@pytest.mark.parametrize("name", [k.name for k in kernel_spec.NATIVE])
def test_c_prototype_matches_spec(name):
    k = kernel_spec.KERNELS[name]
    have = [_c_type(a) for a in _prototypes()[name]]
    want = [_c_type(gen_kernels.c_pointer(t)) for t in k.tensors]
    want += ["float" if p.kind == "f" else "int" for p in k.params if p.fast] + ["int"] * len(k.c_extra)
    assert [h if "*" in h else h.replace("int32_t", "int") for h in have] == want, (
        "uf_%s in kernels.h: %s; kernel_spec says %s" % (name, have, want)
    )


def test_c_table_signatures_match_spec():
    native = pytest.importorskip("upyflow_native", reason="the C extension is not built")
    assert list(native.KERNELS) == [k.name for k in kernel_spec.NATIVE]
    for k in kernel_spec.NATIVE:
        assert getattr(native, k.name).__doc__ == k.signature, k.name


def test_c_table_uses_named_indices():
    table = (ROOT / "native_modules" / "src" / "table.c").read_text()
    assert not re.search(r"\b[IT]\(\d+\)", table), "positional I(n)/T(n) in the generated table.c"
    assert "CONV2D_S8_IN_H" in table and '"conv2d_s8", "rrrwrrw' + "i" * 20 + '"' in table


# Per kernel, the tensors whose values its C checks read, written out by hand from the
# spec's values= bounds and the checks.h helpers' descriptor and table arguments.
VALUE_READS = {
    "fully_connected_s8": "shift",
    "conv2d_s8": "shift",
    "depthwise_conv2d_s16": "shift",
    "batch_matmul_q": "d",
    "addsub_q": "d",
    "binary_i32": "d",
    "mean_f32": "d",
    "strided_copy": "d",
    "lstm_s8": "q",
    "signal_rfft_s16": "t",
    "signal_filter_bank": "t",
    "fully_connected_f32": "",
    "softmax_s8": "",
    "copy_bytes": "",
    "resize_nearest": "",  # a hand-written entry: it checks everything at each run
}


def test_c_table_value_masks():
    """The walker repeats at a run only the checks that read these tensors' values (the
    static ones ran when the Program was prepared): each table entry's mask names them."""
    table = (ROOT / "native_modules" / "src" / "table.c").read_text()
    entries = dict(re.findall(r'^\s*\{"(\w+)", "\w+", call_\w+, \w+, (0x[0-9a-f]{2})\},$', table, re.M))
    assert list(entries) == [k.name for k in kernel_spec.NATIVE]  # every entry has the five fields
    for name, reads in VALUE_READS.items():
        k = kernel_spec.KERNELS[name]
        assert int(entries[name], 16) == sum(1 << k.tensor_index(t) for t in reads.split()), name


def test_value_reads_outside_checks_are_refused(monkeypatch):
    """Only checks= may read a constant's values: the static checks must hold for every run."""
    import dataclasses

    k = kernel_spec.KERNELS["strided_copy"]
    bad = dataclasses.replace(k, requires=k.requires + ("strided_check(x, out, d, esize) == 0",))
    with pytest.raises(ValueError, match="reads a tensor's values"):
        gen_kernels.check_program(bad)


def test_call_binds_by_name():
    k = kernel_spec.KERNELS["softmax_s8"]
    call = Call("softmax_s8", diff_min=-5, x=0, out=1, rows=2, depth=3, in_mult=4, in_shift=np.int64(5))
    assert call.tensors == [0, 1] and call.params == [2, 3, 4, 5, -5]
    assert type(call.params[4]) is int and call.named()["in_shift"] == 5 and call.arg("out") == 1
    # format 3: byte ids, each int parameter as narrow as its value
    assert pack_calls([OpRecord(call.kernel, tuple(call.tensors), tuple(call.params))])[1] == ["<2Bbbbbb"]
    assert k.signature == "rw" + "iiiii"
    f = Call("softmax_f32", x=0, out=1, rows=1, depth=2, beta=1)
    assert f.params == [1, 2, 1.0] and type(f.params[2]) is float


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(x=0, out=1, rows=2, depth=3, in_mult=4, in_shift=5), "missing diff_min"),
        (dict(x=0, out=1, rows=2, depth=3, in_mult=4, in_shift=5, diff_min=0, beta=1), "unknown beta"),
        (dict(x=0, output=1, rows=2, depth=3, in_mult=4, in_shift=5, diff_min=0), "missing out; unknown output"),
        (dict(x=0, out=1, rows=2.5, depth=3, in_mult=4, in_shift=5, diff_min=0), "rows must be an int"),
    ],
)
def test_call_refuses_wrong_names(kwargs, message):
    with pytest.raises(TypeError, match=message):
        Call("softmax_s8", **kwargs)


def test_positional_call_counts_checked():
    with pytest.raises(TypeError, match="takes 2 and 5"):
        Call("softmax_s8", [0, 1], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="no device kernel 'softmax_s9'"):
        Call("softmax_s9", [0, 1], [1, 2, 3, 4, 5])


def _graph(*tensors: Tensor) -> tuple[Graph, Op]:
    g = Graph(tensors=list(tensors), inputs=[0], outputs=[1], ops=[])
    return g, Op("TEST", [0], [1], {})


def _t(name, n, dtype="i8", data=None):
    t = Tensor(name, (n,), dtype, [1.0], [0])
    if data is not None:
        t.data = np.asarray(data, {"i8": np.int8, "i32": np.int32, "f32": np.float32}[dtype])
    return t


def test_bake_checks_ranges_from_spec():
    g, op = _graph(_t("x", 8), _t("out", 8))
    good = dict(x=0, out=1, rows=2, depth=4, in_mult=1 << 30, in_shift=3, diff_min=-5)
    check_call(g, op, Call("softmax_s8", **good))
    for name, value, message in (
        ("diff_min", 5, "diff_min 5 is outside"),
        ("in_shift", 32, "input left shift 32"),
        ("depth", 0, "depth 0 is outside"),
    ):
        with pytest.raises(BakeError, match=message):
            check_call(g, op, Call("softmax_s8", **dict(good, **{name: value})))


def test_bake_checks_sizes_from_spec():
    g, op = _graph(_t("x", 8), _t("out", 7))
    with pytest.raises(BakeError, match="needs 8 elements of 1 bytes in out"):
        check_call(g, op, Call("softmax_s8", x=0, out=1, rows=2, depth=4, in_mult=1, in_shift=0, diff_min=0))


def test_bake_checks_requirements_and_constant_values():
    # SVDF: filters in whole ranks
    g, op = _graph(_t("x", 4), _t("out", 4), _t("wf", 24), _t("wt", 12), _t("q", 20, "i32"), _t("state", 12))
    svdf = dict(
        x=0,
        wf=2,
        wt=3,
        q=4,
        state=5,
        out=1,
        batch=1,
        n_in=4,
        n_filter=6,
        rank=4,
        mem=2,
        state_zp=0,
        out_zp=0,
        m1=1,
        s1=0,
        m2=1,
        s2=0,
    )
    with pytest.raises(BakeError, match=r"needs n_filter % rank == 0 \(n_filter=6, rank=4\)"):
        check_call(g, op, Call("svdf_s8_i8", **svdf))
    # LSTM: the gate shifts after the 8n biases of q
    n = 1
    q = np.zeros(8 * n + 16, np.int32)
    w = _t("w", 4 * n * 2 + 4 * n * n)
    g, op = _graph(
        _t("x", 2), _t("out", 1), w, _t("q", q.size, "i32", q), _t("h", 1), _t("c", 1, "i32"), _t("table", 256, "i16")
    )
    lstm = dict(
        x=0,
        w=2,
        q=3,
        table=6,
        hidden=4,
        cell=5,
        out=1,
        batch=1,
        steps=1,
        n_in=2,
        n=n,
        time_major=0,
        h_zp=0,
        m_fc=1,
        s_fc=0,
        m_ig=1,
        s_ig=0,
        m_out=1,
        s_out=0,
        qclip=0,
        tanh_mult=1,
        tanh_shift=0,
    )
    check_call(g, op, Call("lstm_s8", **lstm))
    g.tensors[3].data[8 * n + 5] = 31
    with pytest.raises(BakeError, match=r"gate requantization shift 31 is outside \[-31, 30\]"):
        check_call(g, op, Call("lstm_s8", **lstm))
    g.tensors[3].data[8 * n + 5] = 0
    g.tensors[3].data[8 * n + 4] = 31  # a multiplier, not a shift: not checked
    check_call(g, op, Call("lstm_s8", **lstm))


def test_int64_shift_bound_follows_acc64():
    shifts = np.array([20], np.int32)
    g, op = _graph(
        _t("x", 2, "i8"),
        _t("out", 1, "i8"),
        _t("w", 2),
        _t("b", 2, "i32"),
        _t("m", 1, "i32"),
        _t("s", 1, "i32", shifts),
    )
    for tensor in (0, 1):
        g.tensors[tensor].dtype = "i16"
        g.tensors[tensor].shape = (2,)
    fc = dict(x=0, w=2, bias=3, out=1, mult=4, shift=5, batches=1, n_in=2, n_out=1, out_off=0, act_min=0, act_max=0)
    with pytest.raises(BakeError, match=r"requantization shift 20 is outside \[-31, 14\]"):
        check_call(g, op, Call("fully_connected_s16", **fc, acc64=1))
    g.tensors[5].data[0] = 31
    with pytest.raises(BakeError, match=r"requantization shift 31 is outside \[-31, 30\]"):
        check_call(g, op, Call("fully_connected_s16", **fc, acc64=0))
    with pytest.raises(BakeError, match=r"acc64 2 is outside \[0, 1\]"):
        check_call(g, op, Call("fully_connected_s16", **fc, acc64=2))


def test_record_format_is_what_the_walker_reads():
    # tensor ids, then per parameter "f" where the spec says float, else b/h/i (the value's
    # narrowest): the walker compares the kinds with the signature and widens ints
    for k in kernel_spec.KERNELS.values():
        params = [1.5 if p.kind == "f" else 70000 for p in k.params]
        fmt = pack_calls([OpRecord(k.name, tuple(range(len(k.tensors))), tuple(params))])[1][0]
        kinds = fmt[len("<%dB" % len(k.tensors)) :]
        assert fmt.startswith("<%dB" % len(k.tensors))
        assert kinds == k.signature[len(k.tensors) :]
        assert struct.calcsize(fmt) == len(k.tensors) + 4 * len(k.params)


def test_a_new_parameter_is_one_edit_of_the_spec(monkeypatch):
    """Everything positional follows the spec: one more parameter of fully_connected_s8 moves
    the C table's signature, checks and call, the viper prologue, and the Calls bake accepts."""
    import dataclasses

    k = kernel_spec.KERNELS["fully_connected_s8"]
    new = dataclasses.replace(k, params=k.params[:3] + (kernel_spec.Int("groups", 1, 8),) + k.params[3:])
    monkeypatch.setitem(kernel_spec.KERNELS, k.name, new)
    monkeypatch.setattr(kernel_spec, "NATIVE", [new if n is k else n for n in kernel_spec.NATIVE])
    table = gen_kernels.table_c()
    assert (
        '{"fully_connected_s8", "rrrwrr' + "i" * 7 + '", call_fully_connected_s8, checks_fully_connected_s8, 0x20}'
        in table
    )
    # its range is in the kernel's check program (checks.h runs it)
    assert "OP_MIN, FULLY_CONNECTED_S8_GROUPS, 1, OP_MAX, FULLY_CONNECTED_S8_GROUPS, 8," in table
    assert "I(FULLY_CONNECTED_S8_N_OUT), I(FULLY_CONNECTED_S8_GROUPS)," in " ".join(table.split())
    prologue = gen_kernels.viper_prologue("fully_connected_s8")
    assert prologue[6:10] == [
        "batches = int(args[6])",
        "n_in = int(args[7])",
        "n_out = int(args[8])",
        "groups = int(args[9])",
    ]
    named = dict(x=0, w=1, bias=2, out=3, mult=4, shift=5, batches=1, n_in=1, n_out=1, out_off=0, act_min=0, act_max=0)
    with pytest.raises(TypeError, match="missing groups"):
        Call("fully_connected_s8", **named)
    assert Call("fully_connected_s8", **named, groups=2).params == [1, 1, 1, 2, 0, 0, 0]


# --- the tiers against the spec (the layout of issue 14: kernels_<tier>/<family>.py, src/<family>.c) ---
DEVICE = ROOT / "device_lib" / "upyflow"


@pytest.mark.parametrize("name", sorted(kernel_spec.KERNELS))
def test_pure_signature_is_the_spec(name):
    import importlib
    import inspect

    k = kernel_spec.KERNELS[name]
    fn = getattr(importlib.import_module("upyflow.kernels_pure." + k.family), name)
    assert list(inspect.signature(fn).parameters) == k.arg_names, (
        "kernels_pure/%s.py %s: argument names differ from kernel_spec" % (k.family, name)
    )


def _top_level_functions(path: Path) -> set[str]:
    return {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize("name", sorted(k.name for k in kernel_spec.KERNELS.values() if k.viper))
def test_viper_kernel_lives_in_its_family_with_a_generated_def_or_prologue(name):
    k = kernel_spec.KERNELS[name]
    path = DEVICE / "kernels_viper" / (k.family + ".py")
    assert name in _top_level_functions(path), "%s is not in kernels_viper/%s.py" % (name, k.family)
    regions = re.findall(r"^\s*# spec: ([\w ]+) \{$", path.read_text(), re.M)
    assert any(name in r.split() for r in regions), "%s has no generated def or argument prologue" % name


def _viper_type(k, i: int) -> str:
    """The viper annotation argument i of k should carry, derived here from the spec's dtypes:
    an arena tensor of 2- or 4-byte elements through ptr16/ptr32, a constant (any address) or
    any other tensor byte by byte, an int parameter as int."""
    if i >= len(k.tensors):
        return "int"
    t = k.tensors[i]
    size = {"i16": 2, "i32": 4, "u32": 4, "f32": 4}.get(t.dtype, 1)
    return "ptr%d" % (8 * size) if t.access != "c" else "ptr8"


@pytest.mark.parametrize("name", sorted(k.name for k in kernel_spec.KERNELS.values() if k.viper))
def test_viper_signature_is_the_spec(name):
    """A positional viper kernel (called fn(*args)) takes the spec's arguments by name, each
    typed; a tuple kernel (fn(args)) takes one argument, and dispatch calls each so."""
    from upyflow import dispatch

    k = kernel_spec.KERNELS[name]
    tree = ast.parse((DEVICE / "kernels_viper" / (k.family + ".py")).read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    names = [a.arg for a in fn.args.args]
    if k.viper == "tuple":
        assert names == ["args"] and name in dispatch.VIPER_TUPLE
        return
    assert name not in dispatch.VIPER_TUPLE
    assert names == k.arg_names, "kernels_viper/%s.py %s: arguments differ from kernel_spec" % (k.family, name)
    assert not fn.args.vararg and not fn.args.defaults
    assert ["micropython.viper"] == [ast.unparse(d) for d in fn.decorator_list]
    types = [ast.unparse(a.annotation) if a.annotation else "" for a in fn.args.args]
    assert types == [_viper_type(k, i) for i in range(len(names))], name


def test_a_new_parameter_moves_a_positional_viper_def(monkeypatch):
    import dataclasses

    k = kernel_spec.KERNELS["lstm_s8"]
    new = dataclasses.replace(k, params=k.params[:1] + (kernel_spec.Int("groups", 1, 8),) + k.params[1:])
    monkeypatch.setitem(kernel_spec.KERNELS, k.name, new)
    text = " ".join(" ".join(gen_kernels.viper_def("lstm_s8")).split())
    assert "out: ptr8, batch: int, groups: int, steps: int," in text


def test_viper_reads_arguments_only_in_generated_prologues():
    for path in gen_kernels.viper_files():
        inside = False
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"^\s*# spec: [\w ]+ \{$", line):
                inside = True
            elif re.match(r"^\s*# \}$", line):
                inside = False
            elif "args[" in line:
                assert inside, "%s:%d reads an argument by position outside a generated prologue" % (path.name, n)


def test_viper_families_are_the_spec():
    from upyflow import dispatch
    from upyflow.kernels_pure import FAMILIES as PURE

    # family -> its kernels: every kernel of the tier once, in its family
    for mapping, kernels in (
        (dispatch.VIPER_FAMILIES, [k for k in kernel_spec.KERNELS.values() if k.viper]),
        (PURE, list(kernel_spec.KERNELS.values())),
    ):
        pairs = sorted((n, f) for f, names in mapping.items() for n in names)
        assert pairs == sorted((k.name, k.family) for k in kernels)


@pytest.mark.parametrize("name", [k.name for k in kernel_spec.NATIVE])
def test_c_kernel_lives_in_its_family_file(name):
    k = kernel_spec.KERNELS[name]
    src = (ROOT / "native_modules" / "src" / (k.family + ".c")).read_text()
    assert re.search(r"^(void|float) uf_%s\(" % name, src, re.M), "uf_%s is not defined in %s.c" % (name, k.family)
