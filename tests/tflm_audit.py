"""Single-operator models of the TFLM kernels, one per (operator, input type, variant): the
audit of which the TFLM interpreter runs and whether upyflow bakes them and gives its bytes.

`cases()` yields (case id, model bytes, input sets); test_tflm_audit.py runs them. Run this file
(`python tests/tflm_audit.py [FILTER]`) for the table: op, type, TFLM (yes / errors: the
interpreter's refusal), upyflow pure and native (ok / refused: the bake error / mismatch)."""

from __future__ import annotations

import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

from tflite_writer import ModelWriter

TYPES = ("int8", "int16", "int32", "float32", "bool", "uint8")
NPT = {
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "float32": np.float32,
    "bool": np.bool_,
    "uint8": np.uint8,
    "int64": np.int64,
}
# quantization of activations: int8 and uint8 with a zero point, int16 symmetric
QP = {"int8": (0.05, 3), "int16": (0.001, 0), "uint8": (0.05, 130)}
QP_OUT = {"int8": (0.07, -5), "int16": (0.0015, 0), "uint8": (0.07, 120)}

# float32 operators whose results are integers: compared byte for byte (the sign of a zero too)
EXACT_F32 = ("FLOOR", "CEIL", "ROUND")
# halves (ROUND's ties to even), signed zeros, values just below 0.5, at and past 2^23 (all
# floats integral), infinities, NaN, subnormals: 24 values
ROUNDING_EDGES = np.array(
    [-0.0, 0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.3, -0.3, 8388607.5, -8388607.5, 8388608.0, 1e10, -1e10]
    + [np.inf, -np.inf, np.nan, 0.49999997, -0.49999997, 3.5, -3.5, 1e-45, -1e-45],
    np.float32,
)

UNARY = (
    "ABS NEG RELU RELU6 LEAKY_RELU LOGISTIC TANH HARD_SWISH ELU EXP LOG SQRT RSQRT SIN COS FLOOR CEIL ROUND "
    "SQUARE LOGICAL_NOT GELU ZEROS_LIKE"
).split()
BINARY = (
    "ADD SUB MUL DIV MAXIMUM MINIMUM SQUARED_DIFFERENCE POW FLOOR_DIV FLOOR_MOD "
    "EQUAL NOT_EQUAL LESS LESS_EQUAL GREATER GREATER_EQUAL LOGICAL_AND LOGICAL_OR ADD_N"
).split()
COMPARE = {"EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL"}
# binary shapes: same shape, broadcast, 6-D same shape, 6-D broadcast
BSHAPES = {
    "3d": ([2, 3, 4], [2, 3, 4]),
    "bcast": ([2, 3, 4], [3, 1]),
    "6d": ([1, 2, 1, 2, 3, 2], [1, 2, 1, 2, 3, 2]),
    "6d-bcast": ([2, 1, 2, 1, 3, 2], [1, 2, 1, 2, 1, 2]),
}


def _q(dt, out=False):
    return (QP_OUT if out else QP).get(dt, (None, None))


def _values(rng, dt, shape, positive=False):
    if dt == "bool":
        return rng.random(shape) < 0.5
    if dt == "float32":
        v = rng.uniform(0.1 if positive else -4, 4, size=shape)
        return v.astype(np.float32)
    info = np.iinfo(NPT[dt])
    lo = 1 if positive else info.min
    if dt == "int32":  # keep int32 products and sums away from overflow (C's undefined behaviour)
        lo, hi = (1 if positive else -1000), 1000
    else:
        hi = info.max
    return rng.integers(lo, hi, size=shape, endpoint=True).astype(NPT[dt])


def _sets(rng, specs, n=3, positive=False):
    return [[_values(rng, dt, s, positive) for dt, s in specs] for _ in range(n)]


def unary(op, dt, shape=(2, 3, 4)):
    out_dt = dt
    w = ModelWriter()
    quant_out = op not in ("ABS", "NEG", "RELU6", "ZEROS_LIKE", "FLOOR", "CEIL", "ROUND")
    if op == "LOGISTIC" and dt == "int8":
        qo = (1 / 256, -128)
    elif op in ("LOGISTIC", "TANH") and dt == "int16":
        qo = (1 / 32768, 0)
    elif op == "TANH" and dt == "int8":
        qo = (1 / 128, 0)
    else:
        qo = _q(dt, quant_out)
    x = w.tensor(list(shape), dt, *_q(dt))
    y = w.tensor(list(shape), out_dt, *qo)
    opts = {}
    if op == "GELU":
        opts = dict(approximate=False)
    w.op(op, [x], [y], **opts)
    positive = op in ("LOG", "SQRT", "RSQRT")
    sets = _sets(np.random.default_rng(zlib.crc32(f"{op}{dt}".encode())), [(dt, shape)], 3, positive)
    if op in EXACT_F32 and dt == "float32":
        sets += [[ROUNDING_EDGES.reshape(shape)], [-ROUNDING_EDGES.reshape(shape)]]
    return w.build([x], [y]), sets


def binary(op, dt, variant):
    sa, sb = BSHAPES[variant]
    so = list(np.broadcast_shapes(tuple(sa), tuple(sb)))
    w = ModelWriter()
    cmp = op in COMPARE or op.startswith("LOGICAL")
    a = w.tensor(sa, dt, *_q(dt))
    b = w.tensor(sb, dt, *(_q(dt, True) if dt in QP else (None, None)))
    out_dt = "bool" if cmp else dt
    y = w.tensor(so, out_dt, *(_q(dt, True) if not cmp else (None, None)))
    opts = {}
    if op in ("ADD", "SUB", "MUL", "DIV"):
        opts = dict(fused_activation_function="NONE")
    if op in ("ADD", "SUB") and dt == "int16":
        opts["pot_scale_int16"] = False
    w.op(op, [a, b], [y], **opts)
    positive = op in ("DIV", "POW", "FLOOR_DIV", "FLOOR_MOD")
    rng = np.random.default_rng(zlib.crc32(f"{op}{dt}{variant}".encode()))
    return w.build([a, b], [y]), _sets(rng, [(dt, sa), (dt, sb)], 3, positive)


def _c(w, arr, dt="int32"):
    arr = np.asarray(arr)
    return w.tensor(list(arr.shape), dt, data=arr)


def movement(op, dt):
    """Data-movement and reduction ops: (model, input sets) or None when the op has no such case."""
    w = ModelWriter()
    qi = _q(dt)
    shape = [1, 4, 4, 2]
    x = w.tensor(shape, dt, *qi)
    extra: list = []
    opts: dict = {}
    outs_shape: list[list[int]] = []
    out_dt = dt
    oq = qi
    ins = [x]
    variant = ""
    if op in VARIANTS:
        op, variant = VARIANTS[op]
    if op == "ADD_N":
        x2, x3 = w.tensor(shape, dt, *qi), w.tensor(shape, dt, *qi)
        extra, ins = [x2, x3], [x, x2, x3]
        outs_shape = [shape]
    elif op == "TRANSPOSE":
        ins.append(_c(w, [0, 2, 1, 3]))
        outs_shape = [[1, 4, 4, 2]]
    elif op in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ALL", "REDUCE_ANY"):
        ins.append(_c(w, [1, 2]))
        opts = dict(keep_dims=False)
        outs_shape = [[1, 2]]
    elif op in ("ARG_MAX", "ARG_MIN"):
        ins.append(_c(w, [3]))
        opts = dict(output_type="INT32")
        outs_shape, out_dt, oq = [[1, 4, 4]], "int32", (None, None)
    elif op == "CONCATENATION":
        x2 = w.tensor(shape, dt, *qi)
        extra, ins = [x2], [x, x2]
        opts = dict(axis=3, fused_activation_function="NONE")
        outs_shape = [[1, 4, 4, 4]]
    elif op == "PACK":
        x2 = w.tensor(shape, dt, *qi)
        extra, ins = [x2], [x, x2]
        opts = dict(values_count=2, axis=-1 if variant else 1)
        outs_shape = [[1, 4, 4, 2, 2] if variant else [1, 2, 4, 4, 2]]
    elif op == "UNPACK":
        opts = dict(num=4, axis=1)
        outs_shape = [[1, 4, 2]] * 4
    elif op == "SPLIT":
        ins = [_c(w, np.array(2, np.int32).reshape(())), x]
        opts = dict(num_splits=2)
        outs_shape = [[1, 4, 2, 2]] * 2
    elif op == "SPLIT_V":
        ins = [x, _c(w, [1, 3]), _c(w, np.array(1, np.int32).reshape(()))]
        opts = dict(num_splits=2)
        outs_shape = [[1, 1, 4, 2], [1, 3, 4, 2]]
    elif op == "STRIDED_SLICE":
        ins += [_c(w, [0, 1, 0, 0]), _c(w, [1, 4, 4, 2]), _c(w, [1, 2, 1, 1])]
        outs_shape = [[1, 2, 4, 2]]
    elif op == "SLICE":
        ins += [_c(w, [0, 1, 1, 0]), _c(w, [1, -1, 3, 2] if variant else [1, 2, 3, 2])]
        outs_shape = [[1, 3, 3, 2] if variant else [1, 2, 3, 2]]
    elif op in ("PAD", "PADV2", "MIRROR_PAD"):
        ins.append(_c(w, [[0, 0], [1, 1], [2, 1], [0, 0]]))
        if op == "PADV2":
            ins.append(w.tensor([], dt, *qi, data=np.zeros((), NPT[dt])))
        if op == "MIRROR_PAD":
            opts = dict(mode="SYMMETRIC" if variant else "REFLECT")
        outs_shape = [[1, 6, 7, 2]]
    elif op == "GATHER":
        ins.append(_c(w, [3, 0, 2]))
        opts = dict(axis=1, batch_dims=0)
        outs_shape = [[1, 3, 4, 2]]
    elif op == "GATHER_ND":
        ins.append(_c(w, [[0], [0]] if variant else [[0, 1], [0, 3]]))
        outs_shape = [[2, 4, 4, 2] if variant else [2, 4, 2]]
    elif op == "EMBEDDING_LOOKUP":
        ins = [_c(w, [2, 0, 3]), x]
        outs_shape = [[3, 4, 4, 2]]
        x = w.tensor([4, 4, 2], dt, *qi)
        ins = [_c(w, [2, 0, 3]), x]
        outs_shape = [[3, 4, 2]]
        shape = [4, 4, 2]
    elif op == "BROADCAST_TO":
        if variant:  # a lower-rank input broadcast on two axes
            x = w.tensor([4, 1], dt, *qi)
            ins, shape = [x, _c(w, [3, 2, 4, 5])], [4, 1]
            outs_shape = [[3, 2, 4, 5]]
        else:
            ins.append(_c(w, [2, 4, 4, 2]))
            outs_shape = [[2, 4, 4, 2]]
    elif op == "REVERSE_V2":
        ins.append(_c(w, [1, 3] if variant else [1]))
        outs_shape = [shape]
    elif op == "DEPTH_TO_SPACE":
        x = w.tensor([1, 2, 2, 4], dt, *qi)
        ins, shape = [x], [1, 2, 2, 4]
        opts = dict(block_size=2)
        outs_shape = [[1, 4, 4, 1]]
    elif op == "SPACE_TO_DEPTH":
        opts = dict(block_size=2)
        outs_shape = [[1, 2, 2, 8]]
    elif op == "SPACE_TO_BATCH_ND":
        ins += [_c(w, [2, 2]), _c(w, [[0, 0], [0, 0]])]
        outs_shape = [[4, 2, 2, 2]]
    elif op == "BATCH_TO_SPACE_ND":
        x = w.tensor([4, 2, 2, 2], dt, *qi)
        ins, shape = [x, _c(w, [2, 2]), _c(w, [[0, 0], [0, 0]])], [4, 2, 2, 2]
        outs_shape = [[1, 4, 4, 2]]
    elif op in ("RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"):
        ins.append(_c(w, [8, 6]))
        opts = dict(align_corners=False, half_pixel_centers=True)
        outs_shape = [[1, 8, 6, 2]]
    elif op == "CUMSUM":
        ins.append(_c(w, np.array(1, np.int32).reshape(())))
        opts = dict(exclusive=False, reverse=False)
        outs_shape = [shape]
    elif op == "SELECT_V2":
        cnd = w.tensor([1, 1, 4, 2], "bool")
        x2 = w.tensor(shape, dt, *qi)
        ins, extra = [cnd, x, x2], [x2]
        outs_shape = [shape]
    elif op == "DYNAMIC_UPDATE_SLICE":
        upd = w.tensor([1, 2, 2, 2], dt, *qi)
        ins, extra = [x, upd, _c(w, [0, 3, -1, 0] if variant else [0, 1, 2, 0])], [upd]
        outs_shape = [shape]
    elif op in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
        if op == "RESHAPE":
            ins.append(_c(w, [4, 8]))
            outs_shape = [[4, 8]]
        elif op == "SQUEEZE":
            opts = dict(squeeze_dims=[0])
            outs_shape = [[4, 4, 2]]
        else:
            ins.append(_c(w, np.array(0, np.int32).reshape(())))
            outs_shape = [[1, 1, 4, 4, 2]]
    elif op == "L2_POOL_2D":
        opts = dict(padding="VALID", stride_w=2, stride_h=2, filter_width=2, filter_height=2)
        opts["fused_activation_function"] = "NONE"
        outs_shape = [[1, 2, 2, 2]]
    elif op == "CAST_TO_F32":
        op, out_dt, oq = "CAST", "float32", (None, None)
        outs_shape = [shape]
    elif op == "DEQUANTIZE":
        out_dt, oq = "float32", (None, None)
        outs_shape = [shape]
    elif op == "QUANTIZE_TO_I8":
        op, out_dt, oq = "QUANTIZE", "int8", QP_OUT["int8"]
        outs_shape = [shape]
    else:
        raise KeyError(op)
    ys = [w.tensor(s, out_dt, *oq) for s in outs_shape]
    w.op(op, ins, ys, **opts)
    graph_ins = [x] + extra if op != "SELECT_V2" else [ins[0], x] + extra
    rng = np.random.default_rng(zlib.crc32(f"{op}{dt}".encode()))
    specs = [(dt, shape)] + [(dt, [1, 2, 2, 2] if op == "DYNAMIC_UPDATE_SLICE" else shape) for _ in extra]
    if op == "SELECT_V2":
        specs = [("bool", [1, 1, 4, 2])] + specs
    sets = _sets(rng, specs, 3)
    if op == "REDUCE_ALL" and dt == "bool":  # all true, and all true but one value per row
        ones = np.ones(shape, bool)
        some = ones.copy()
        some[0, 1, 2, :] = False
        sets += [[ones], [some]]
    return w.build(graph_ins, ys), sets


# second variants of some operators: (operator, variant)
VARIANTS = {
    "ADD_N3": ("ADD_N", "3"),
    "PACK_LAST": ("PACK", "last"),
    "SLICE_TO_END": ("SLICE", "-1"),
    "MIRROR_PAD_SYM": ("MIRROR_PAD", "symmetric"),
    "GATHER_ND_1": ("GATHER_ND", "depth 1"),
    "BROADCAST_TO_RANK": ("BROADCAST_TO", "rank"),
    "REVERSE_V2_2AX": ("REVERSE_V2", "2 axes"),
    "DUS_CLAMPED": ("DYNAMIC_UPDATE_SLICE", "clamped"),
}
MOVEMENT = (
    "TRANSPOSE MEAN SUM REDUCE_MAX REDUCE_MIN REDUCE_PROD REDUCE_ALL REDUCE_ANY ARG_MAX ARG_MIN CONCATENATION PACK "
    "UNPACK SPLIT SPLIT_V STRIDED_SLICE SLICE PAD PADV2 MIRROR_PAD GATHER GATHER_ND EMBEDDING_LOOKUP BROADCAST_TO "
    "REVERSE_V2 DEPTH_TO_SPACE SPACE_TO_DEPTH SPACE_TO_BATCH_ND BATCH_TO_SPACE_ND RESIZE_NEAREST_NEIGHBOR "
    "RESIZE_BILINEAR CUMSUM SELECT_V2 DYNAMIC_UPDATE_SLICE RESHAPE SQUEEZE EXPAND_DIMS L2_POOL_2D CAST_TO_F32 "
    "DEQUANTIZE QUANTIZE_TO_I8"
).split() + list(VARIANTS)


def cases():
    """(op, type, variant, builder) for every case; builder() -> (model bytes, input sets)."""
    for op in UNARY:
        for dt in TYPES:
            yield op, dt, "", lambda op=op, dt=dt: unary(op, dt)
    for op in BINARY:
        for dt in TYPES:
            for v in BSHAPES:
                yield op, dt, v, lambda op=op, dt=dt, v=v: binary(op, dt, v)
    for op in MOVEMENT:
        for dt in TYPES:
            yield op, dt, "", lambda op=op, dt=dt: movement(op, dt)


def run_case(builder, outdir: Path, name: str, exact: bool = False) -> dict:
    """{'tflm': 'yes'/'errors: ...', 'pure'/'native': 'ok'/'refused: ...'/'mismatch: ...'}."""
    from harness import bake_model, load_cpython, run_tflm, run_upyflow

    res: dict[str, str] = {}
    try:
        model, sets = builder()
    except Exception as e:  # the writer cannot express it
        return {"tflm": "unbuildable: %s" % e}
    try:
        want = [run_tflm(model, s) for s in sets]
        res["tflm"] = "yes"
    except Exception as e:
        res["tflm"] = "errors: %s" % str(e).strip().splitlines()[-1][:100]
        want = None
    try:
        mdir, mname, _ = bake_model(model, outdir, name)
    except Exception as e:
        msg = "refused: %s" % (str(e).strip().splitlines() or [type(e).__name__])[0][:140]
        res["pure"] = res["native"] = msg
        return res
    for tier in ("pure", "native"):
        try:
            m = load_cpython(mdir, mname, tier)
            got = [run_upyflow(m, s) for s in sets]
        except Exception as e:
            res[tier] = "run error: %s" % (str(e).strip().splitlines() or [type(e).__name__])[0][:140]
            continue
        if want is None:
            res[tier] = "bakes (TFLM errors)"
            continue
        res[tier] = "ok"
        for g, wv in zip(got, want):
            for a, b in zip(g, wv):
                b = np.asarray(b)
                if a.dtype != b.dtype or a.shape != b.shape:
                    res[tier] = "mismatch: %s%s vs TFLM %s%s" % (a.dtype, a.shape, b.dtype, b.shape)
                elif b.dtype == np.float32 and exact:
                    if a.tobytes() != b.tobytes():
                        res[tier] = "mismatch: %d values differ (bytes)" % int(
                            (a.view(np.uint32) != b.view(np.uint32)).sum()
                        )
                elif b.dtype == np.float32:
                    if not np.allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True):
                        res[tier] = "mismatch: max diff %g" % float(np.nanmax(np.abs(a - b)))
                elif not np.array_equal(a, b):
                    res[tier] = "mismatch: %d values differ" % int((a != b).sum())
    return res


def main(argv):
    filt = argv[1] if len(argv) > 1 else ""
    with tempfile.TemporaryDirectory() as d:
        for i, (op, dt, v, builder) in enumerate(cases()):
            cid = "%s-%s%s" % (op, dt, "-" + v if v else "")
            if filt and filt not in cid:
                continue
            r = run_case(builder, Path(d), "a%d" % i, op in EXACT_F32)
            print(
                "| %s | %s | %s | %s | %s |"
                % (op + (" " + v if v else ""), dt, r.get("tflm"), r.get("pure"), r.get("native")),
                flush=True,
            )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main(sys.argv)
