"""A seeded mutation fuzzer for `upyflow bake`, every kernel tier, and the oracles.

Seeds: the small shared .tflite models (when ../shared is present), models built with
tflite_writer.py and small ONNX models built with onnx.helper. A mutant changes one to three
schema fields (shape dimensions, types, scales, zero points, operator operands and options,
graph inputs/outputs: found by walking the flatbuffer or editing the ONNX protobuf) or a few
raw bytes. Each mutant is baked in a worker process that has a memory cap; the parent kills
it after a timeout. An accepted mutant runs on the CPython native and pure tiers (the pure
arena followed by guard bytes that must stay untouched, views unbounded above as
MicroPython's uctypes views are), with FUZZ_MICROPYTHON=1 also under the MicroPython unix
port on the natmod (the x64 upyflow_native.mpy, when it is current with the C sources or
MPY_DIR can build it), viper and pure tiers, each arena followed by guard bytes; and on the
oracle, TFLM for TFLite and onnxruntime for ONNX, in a child process of its own (both can
crash on a damaged model). Every tier must give the oracle's outputs: integers byte for
byte, float32 within 1e-5 relative (onnxruntime: 1e-4, and a QDQ graph within one output
step, as tests/test_onnx.py). Where the oracle refuses, crashes or hangs, the tiers are
compared with the CPython native tier instead and the mutant counted apart. Verdicts:

- rejected: bake raised BakeError with a one-line message (good);
- ok: the tiers give the oracle's outputs (good);
- float-tie: as ok, but a float result quantized rounds one step apart (float kernels agree
  within 1e-5, not bit for bit), counted apart;
- qdq-lsb: as ok, but a QDQ-quantized ONNX output (a QuantizeLinear's, or dequantized from
  one) one quantization step from onnxruntime's (the project's "QDQ within 1 LSB"), or
  further where onnxruntime gives the tiers' outputs with its scales nudged by 2^-20 (a
  rounding tie amplified downstream, qdq_tie);
- tflm-/ort-refused, -crash, -hang: the oracle failed on the model, the tiers agree with each
  other (noted with one example each, not a finding); ort-overflow: onnxruntime gives +-inf
  where the tiers give +-FLT_MAX (TFLite's "NONE" activation clamps there, as TFLM does),
  or inf/NaN downstream of such an overflow where onnxruntime with every float result
  saturated at +-FLT_MAX gives the tiers' outputs (ort_saturated); ort-nan: NaN reached
  a MaxPool, whose NaN rule in onnxruntime depends on its MLAS path, and onnxruntime with
  TFLM's rule (NaN taps never win) gives the tiers' outputs;
- skipped: accepted, arena over MAX_RUN_ARENA;
- anything else is a finding: traceback (any other exception in bake, with its place),
  multiline (a BakeError of several lines), backstop (the ONNX reader's catch-all turned an
  unforeseen exception into its one-line error: not a crash, but a missing check), oom
  (MemoryError), hang, crash (worker or MicroPython died), run (an accepted model fails at
  load or invoke on a tier), guard (bytes after the arena changed), mismatch (a tier differs
  from the oracle, or from the native tier where there is none).

`python tests/fuzz.py --count N --seed S [--kind tflite|onnx|both]` prints the counts and
one example per distinct finding; tests/test_fuzz.py runs a few hundred in `make test`,
`make fuzz` thousands with a fresh seed. FUZZ_ORACLE=0 leaves the oracle out.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import struct
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# ../shared beside the checkout, as tests/harness.py (FUZZ_SHARED names another place).
SHARED = Path(os.environ.get("FUZZ_SHARED") or HERE.parents[1] / "shared") / "models"
GOOD = ("rejected", "ok", "skipped", "float-tie", "qdq-lsb")
# the tiers agree with each other but the oracle (TFLM, onnxruntime) refused, crashed or hung
NOTES = tuple(o + s for o in ("tflm-", "ort-") for s in ("refused", "crash", "hang")) + ("ort-overflow", "ort-nan")
GUARD = 256  # guard bytes after the arena
GUARD_BYTE = 0xA5
MEM_LIMIT = 2 << 30  # address space of a worker
MAX_RUN_ARENA = 4 << 20  # accepted models with a larger arena are baked but not run

# Small shared models: (file, in `make test`); the others only in `make fuzz`.
SHARED_SEEDS = (
    ("hello_world_int8.tflite", True),
    ("hello_world_float.tflite", False),
    ("microflow_sine.tflite", False),
    ("micro_speech_quantized.tflite", True),
    ("keyword_scrambled_8bit.tflite", False),
)


# --- seeds ---------------------------------------------------------------------------------------
def _writer_seeds() -> dict[str, bytes]:
    sys.path.insert(0, str(HERE))
    from tflite_writer import ModelWriter, add_quant_weights

    rng = np.random.default_rng(1234)
    seeds = {}

    # int8 CNN: conv, depthwise, max pool, average pool, FC, softmax
    w = ModelWriter()
    x = w.tensor([1, 6, 6, 2], "int8", 0.05, -3)
    c1 = w.tensor([1, 6, 6, 4], "int8", 0.04, 2)
    wi, bi, *_ = add_quant_weights(w, rng, [4, 3, 3, 2], 0, 0.05)
    w.op("CONV_2D", [x, wi, bi], [c1], fused_activation_function="RELU")
    d1 = w.tensor([1, 3, 3, 4], "int8", 0.03, 1)
    wd, bd, *_ = add_quant_weights(w, rng, [1, 3, 3, 4], 3, 0.04)
    w.op("DEPTHWISE_CONV_2D", [c1, wd, bd], [d1], stride_h=2, stride_w=2)
    p1 = w.tensor([1, 2, 2, 4], "int8", 0.03, 1)
    w.op("MAX_POOL_2D", [d1], [p1], filter_height=2, filter_width=2)
    p2 = w.tensor([1, 1, 1, 4], "int8", 0.03, 1)
    w.op("AVERAGE_POOL_2D", [p1], [p2], filter_height=2, filter_width=2, stride_h=2, stride_w=2)
    f = w.tensor([1, 3], "int8", 0.1, 0)
    wf, bf, *_ = add_quant_weights(w, rng, [3, 4], 0, 0.03)
    w.op("FULLY_CONNECTED", [p2, wf, bf], [f])
    s = w.tensor([1, 3], "int8", 1 / 256, -128)
    w.op("SOFTMAX", [f], [s], beta=1.0)
    seeds["w_cnn_s8"] = w.build([x], [s])

    # float: conv, pool, FC, softmax
    w = ModelWriter()
    x = w.tensor([1, 5, 5, 2], "float32")
    c = w.tensor([1, 5, 5, 3], "float32")
    w.op(
        "CONV_2D",
        [
            x,
            w.tensor([3, 3, 3, 2], "float32", data=rng.normal(size=[3, 3, 3, 2])),
            w.tensor([3], "float32", data=rng.normal(size=3)),
        ],
        [c],
    )
    p = w.tensor([1, 2, 2, 3], "float32")
    w.op("MAX_POOL_2D", [c], [p], filter_height=2, filter_width=2, stride_h=2, stride_w=2)
    f = w.tensor([1, 4], "float32")
    w.op("FULLY_CONNECTED", [p, w.tensor([4, 12], "float32", data=rng.normal(size=[4, 12])), -1], [f])
    s = w.tensor([1, 4], "float32")
    w.op("SOFTMAX", [f], [s], beta=1.0)
    seeds["w_cnn_f32"] = w.build([x], [s])

    # int8 element-wise: ADD, MUL, MEAN, LEAKY_RELU, QUANTIZE/DEQUANTIZE
    w = ModelWriter()
    a = w.tensor([1, 4, 3], "int8", 0.05, 3)
    b = w.tensor([1, 1, 3], "int8", 0.07, -2)
    s1 = w.tensor([1, 4, 3], "int8", 0.1, 0)
    w.op("ADD", [a, b], [s1])
    m1 = w.tensor([1, 4, 3], "int8", 0.02, 5)
    w.op("MUL", [s1, a], [m1])
    l1 = w.tensor([1, 4, 3], "int8", 0.02, 5)
    w.op("LEAKY_RELU", [m1], [l1], alpha=0.3)
    mean = w.tensor([1, 3], "int8", 0.02, 5)
    w.op("MEAN", [l1, w.tensor([1], "int32", data=np.array([1]))], [mean])
    fl = w.tensor([1, 3], "float32")
    w.op("DEQUANTIZE", [mean], [fl])
    seeds["w_eltwise_s8"] = w.build([a, b], [fl])
    return seeds


def _onnx_seeds() -> dict[str, bytes]:
    from onnx import TensorProto as TP
    from onnx import helper as oh
    from onnx import numpy_helper as nh

    rng = np.random.default_rng(4321)

    def f32(*shape):
        return rng.normal(0, 0.5, size=shape).astype(np.float32)

    def make(nodes, inputs, outputs, inits, elem=TP.FLOAT):
        graph = oh.make_graph(
            nodes,
            "g",
            [oh.make_tensor_value_info(n, elem, s) for n, s in inputs.items()],
            [oh.make_tensor_value_info(n, elem, None) for n in outputs],
            [nh.from_array(np.asarray(v), k) for k, v in inits.items()],
        )
        return oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], ir_version=8).SerializeToString()

    seeds = {}
    inits = {
        "w1": f32(4, 2, 3, 3),
        "b1": f32(4),
        "wd": f32(4, 1, 3, 3),
        "w2": f32(3, 16),
        "b2": f32(3),
        "lo": np.array(0, np.float32),
        "hi": np.array(6, np.float32),
        "shape": np.array([1, -1], np.int64),
    }
    nodes = [
        oh.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        oh.make_node("Relu", ["c1"], ["r1"]),
        oh.make_node("Conv", ["r1", "wd"], ["c2"], group=4, strides=[2, 2], pads=[1, 1, 1, 1]),
        oh.make_node("Clip", ["c2", "lo", "hi"], ["r2"]),
        oh.make_node("MaxPool", ["r2"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        oh.make_node("Reshape", ["p", "shape"], ["f"]),
        oh.make_node("Gemm", ["f", "w2", "b2"], ["g"], transB=1),
        oh.make_node("Softmax", ["g"], ["y"]),
    ]
    seeds["o_cnn_f32"] = make(nodes, {"x": [1, 2, 8, 8]}, ["y"], inits)

    inits = {
        "w": f32(3, 2, 1, 1),
        "g": np.ones(3, np.float32),
        "bb": f32(3),
        "m": f32(3),
        "v": np.abs(f32(3)) + 0.5,
        "s": f32(1, 3, 1, 1),
    }
    nodes = [
        oh.make_node("Conv", ["x", "w"], ["c"]),
        oh.make_node("BatchNormalization", ["c", "g", "bb", "m", "v"], ["n"]),
        oh.make_node("AveragePool", ["n"], ["a"], kernel_shape=[2, 2], strides=[1, 1]),
        oh.make_node("Add", ["a", "s"], ["ad"]),
        oh.make_node("Sigmoid", ["ad"], ["sg"]),
        oh.make_node("Concat", ["sg", "ad"], ["cat"], axis=1),
        oh.make_node("GlobalAveragePool", ["cat"], ["gp"]),
        oh.make_node("Flatten", ["gp"], ["y"]),
    ]
    seeds["o_branch_f32"] = make(nodes, {"x": [1, 2, 5, 5]}, ["y"], inits)

    # QDQ: Q -> DQ -> Conv (DQ'd int8 weights, int32 bias) -> Q -> DQ -> MaxPool -> Q -> DQ
    wq = rng.integers(-127, 128, size=(3, 2, 3, 3)).astype(np.int8)
    inits = {
        "xs": np.array(0.02, np.float32),
        "xz": np.array(3, np.int8),
        "wq": wq,
        "ws": np.full(3, 0.01, np.float32),
        "wz": np.zeros(3, np.int8),
        "bq": rng.integers(-500, 500, size=3).astype(np.int32),
        "bs": np.full(3, 0.0002, np.float32),
        "bz": np.zeros(3, np.int32),
        "ys": np.array(0.05, np.float32),
        "yz": np.array(-4, np.int8),
    }
    nodes = [
        oh.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        oh.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        oh.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], axis=0),
        oh.make_node("DequantizeLinear", ["bq", "bs", "bz"], ["bd"], axis=0),
        oh.make_node("Conv", ["xd", "wd", "bd"], ["c"], pads=[1, 1, 1, 1]),
        oh.make_node("Relu", ["c"], ["r"]),
        oh.make_node("QuantizeLinear", ["r", "ys", "yz"], ["rq"]),
        oh.make_node("DequantizeLinear", ["rq", "ys", "yz"], ["rd"]),
        oh.make_node("MaxPool", ["rd"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        oh.make_node("QuantizeLinear", ["p", "ys", "yz"], ["pq"]),
        oh.make_node("DequantizeLinear", ["pq", "ys", "yz"], ["y"]),
    ]
    seeds["o_qdq_conv"] = make(nodes, {"x": [1, 2, 6, 6]}, ["y"], inits)

    # 1-D conv and pool, Pad, Transpose, MatMul, LeakyRelu, Squeeze/Unsqueeze, shape arithmetic
    inits = {
        "w": f32(3, 2, 3),
        "pads": np.array([0, 0, 1, 0, 0, 1], np.int64),
        "wm": f32(3, 4),
        "ax": np.array([2], np.int64),
        "one": np.array([1], np.int64),
    }
    nodes = [
        oh.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1]),
        oh.make_node("MaxPool", ["c"], ["p"], kernel_shape=[2], strides=[2]),
        oh.make_node("Pad", ["p", "pads"], ["pd"]),
        oh.make_node("LeakyRelu", ["pd"], ["l"], alpha=0.1),
        oh.make_node("Transpose", ["l"], ["t"], perm=[0, 2, 1]),
        oh.make_node("Shape", ["t"], ["sh"]),
        oh.make_node("Gather", ["sh", "one"], ["n"]),
        oh.make_node("Unsqueeze", ["t", "ax"], ["u"]),
        oh.make_node("Squeeze", ["u", "ax"], ["sq"]),
        oh.make_node("MatMul", ["sq", "wm"], ["y"]),
    ]
    seeds["o_seq_f32"] = make(nodes, {"x": [1, 2, 8]}, ["y"], inits)

    # QDQ Gemm and Add
    wq = rng.integers(-127, 128, size=(4, 6)).astype(np.int8)
    inits = {
        "xs": np.array(0.03, np.float32),
        "xz": np.array(-2, np.int8),
        "wq": wq,
        "ws": np.array(0.01, np.float32),
        "wz": np.array(0, np.int8),
        "bq": rng.integers(-300, 300, size=4).astype(np.int32),
        "bs": np.array(0.0003, np.float32),
        "bz": np.array(0, np.int32),
        "ys": np.array(0.04, np.float32),
        "yz": np.array(1, np.int8),
    }
    nodes = [
        oh.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        oh.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        oh.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"]),
        oh.make_node("DequantizeLinear", ["bq", "bs", "bz"], ["bd"]),
        oh.make_node("Gemm", ["xd", "wd", "bd"], ["g"], transB=1),
        oh.make_node("QuantizeLinear", ["g", "ys", "yz"], ["gq"]),
        oh.make_node("DequantizeLinear", ["gq", "ys", "yz"], ["gd"]),
        oh.make_node("Add", ["gd", "gd"], ["a"]),
        oh.make_node("QuantizeLinear", ["a", "ys", "yz"], ["aq"]),
        oh.make_node("DequantizeLinear", ["aq", "ys", "yz"], ["y"]),
    ]
    seeds["o_qdq_gemm"] = make(nodes, {"x": [1, 6]}, ["y"], inits)
    return seeds


def seeds(kind: str, quick: bool) -> dict[str, bytes]:
    """name -> model bytes; ONNX seed names end in .onnx."""
    out = {}
    if kind in ("tflite", "both"):
        for name, in_quick in SHARED_SEEDS:
            if (SHARED / name).exists() and (in_quick or not quick):
                out[name] = (SHARED / name).read_bytes()
        out.update({k + ".tflite": v for k, v in _writer_seeds().items()})
    if kind in ("onnx", "both"):
        out.update({k + ".onnx": v for k, v in _onnx_seeds().items()})
    return out


# --- TFLite mutation: schema fields located by walking the flatbuffer ------------------------------
I32 = [0, 1, -1, 2, 3, 255, 256, 1 << 15, 1 << 16, 1 << 24, 1 << 28, (1 << 31) - 1, -(1 << 31), 46341, 65537]
F32 = [float("nan"), float("inf"), float("-inf"), 0.0, -1.0, 1e-38, 1e38, 1e-45, 3.4e38, 1e-9, 1e9, 0.5]
I64 = [0, -129, 128, 1 << 40, -1, 127, -128, 32767, 1 << 31]


def _vec(tab, slot: int):
    """(absolute start, length) of the vector in field `slot` of a flatbuffers table, or None."""
    o = tab.Offset(slot)
    if not o:
        return None
    return tab.Vector(o), tab.VectorLen(o)


def _table_fields(buf: bytes, pos: int) -> list[int]:
    """Absolute positions of the scalar fields present in the table at pos (vtable walk)."""
    vt = pos - struct.unpack_from("<i", buf, pos)[0]
    vsize = struct.unpack_from("<H", buf, vt)[0]
    out = []
    for k in range(4, vsize, 2):
        rel = struct.unpack_from("<H", buf, vt + k)[0]
        if rel:
            out.append(pos + rel)
    return out


def tflite_sites(data: bytes) -> list[tuple[str, int, int]]:
    """(kind, offset, count) of mutable fields: kind i32/f32/i64/u8 vectors or scalars."""
    import tflite

    model = tflite.Model.GetRootAs(data, 0)
    sites = []
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        for slot in (6, 8):  # subgraph inputs, outputs
            v = _vec(sg._tab, slot)
            if v:
                sites.append(("i32", v[0], v[1]))
        for i in range(sg.TensorsLength()):
            t = sg.Tensors(i)
            v = _vec(t._tab, 4)
            if v:
                sites.append(("i32", v[0], v[1]))
            o = t._tab.Offset(6)
            if o:
                sites.append(("type", t._tab.Pos + o, 1))
            o = t._tab.Offset(8)
            if o:
                sites.append(("i32", t._tab.Pos + o, 1))
            q = t.Quantization()
            if q is not None:
                for slot, kind in ((8, "f32"), (10, "i64")):
                    v = _vec(q._tab, slot)
                    if v:
                        sites.append((kind, v[0], v[1]))
                o = q._tab.Offset(16)
                if o:
                    sites.append(("i32", q._tab.Pos + o, 1))
        for i in range(sg.OperatorsLength()):
            op = sg.Operators(i)
            for slot in (6, 8):
                v = _vec(op._tab, slot)
                if v:
                    sites.append(("i32", v[0], v[1]))
            opts = op.BuiltinOptions()
            if opts is not None:
                for p in _table_fields(data, opts.Pos):
                    sites.append(("opt", p, 1))
    return sites


def mutate_tflite(data: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(data)
    if rng.random() < 0.15:  # raw bytes
        for _ in range(int(rng.integers(1, 5))):
            b[int(rng.integers(8, len(b)))] = int(rng.integers(0, 256))
        return bytes(b)
    sites = tflite_sites(data)
    for _ in range(int(rng.integers(1, 3))):
        kind, off, n = sites[int(rng.integers(len(sites)))]
        k = int(rng.integers(n)) if n else 0
        if kind == "i32":
            pos = off + 4 * k
            old = struct.unpack_from("<i", b, pos)[0]
            r = rng.random()
            new = (
                int(rng.choice(I32))
                if r < 0.5
                else old + int(rng.integers(-3, 4))
                if r < 0.8
                else int(rng.integers(-1, 20))
            )
            struct.pack_into("<i", b, pos, max(-(1 << 31), min((1 << 31) - 1, new)))
        elif kind == "f32":
            struct.pack_into(
                "<f", b, off + 4 * k, float(rng.choice(F32)) if rng.random() < 0.8 else float(rng.uniform(-1, 1))
            )
        elif kind == "i64":
            struct.pack_into("<q", b, off + 8 * k, int(rng.choice(I64)))
        elif kind == "type":
            b[off] = int(rng.choice([0, 1, 2, 3, 4, 6, 7, 9, 10, 17]))
        else:  # an option field of unknown width: one byte, or four when it has room
            if rng.random() < 0.5 and off + 4 <= len(b):
                struct.pack_into("<i", b, off, int(rng.choice(I32)))
            elif rng.random() < 0.5 and off + 4 <= len(b):
                struct.pack_into("<f", b, off, float(rng.choice(F32)))
            else:
                b[off] = int(rng.integers(0, 256))
    return bytes(b)


# --- ONNX mutation: protobuf fields -----------------------------------------------------------
ONNX_I = [0, -1, 1, 2, 3, 5, 100, 1 << 20, (1 << 31) - 1, 1 << 33, -(1 << 31)]


def mutate_onnx(data: bytes, rng: np.random.Generator) -> bytes:
    import onnx
    from onnx import numpy_helper as nh

    if rng.random() < 0.1:  # raw bytes
        b = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            b[int(rng.integers(0, len(b)))] = int(rng.integers(0, 256))
        return bytes(b)
    m = onnx.ModelProto()
    m.ParseFromString(data)
    g = m.graph
    names = [i.name for i in g.initializer] + [n for node in g.node for n in node.output] + [i.name for i in g.input]
    for _ in range(int(rng.integers(1, 3))):
        what = int(rng.integers(0, 10))
        node = g.node[int(rng.integers(len(g.node)))]
        if what in (0, 1) and node.attribute:  # an attribute value
            a = node.attribute[int(rng.integers(len(node.attribute)))]
            if a.ints:
                a.ints[int(rng.integers(len(a.ints)))] = int(rng.choice(ONNX_I))
                if rng.random() < 0.2:
                    del a.ints[-1]
            elif a.type == onnx.AttributeProto.INT:
                a.i = int(rng.choice(ONNX_I))
            elif a.type == onnx.AttributeProto.FLOAT:
                a.f = float(rng.choice(F32))
            elif rng.random() < 0.5:
                a.type = onnx.AttributeProto.FLOAT
        elif what == 2:  # a new or retyped attribute
            name = str(
                rng.choice(
                    [
                        "strides",
                        "pads",
                        "kernel_shape",
                        "dilations",
                        "group",
                        "axis",
                        "auto_pad",
                        "ceil_mode",
                        "transB",
                        "alpha",
                        "count_include_pad",
                    ]
                )
            )
            vals = [int(rng.choice(ONNX_I)) for _ in range(int(rng.integers(1, 5)))]
            node.attribute.append(
                onnx.helper.make_attribute(
                    name, vals if rng.random() < 0.6 else (vals[0] if rng.random() < 0.5 else "SAME_UPPER")
                )
            )
        elif what == 3 and node.input:  # an operand renamed, removed or added
            k = int(rng.integers(len(node.input)))
            r = rng.random()
            if r < 0.4:
                node.input[k] = str(rng.choice(names))
            elif r < 0.7:
                del node.input[k]
            elif r < 0.85:
                node.input[k] = ""
            else:
                node.input.append(str(rng.choice(names)))
        elif what == 4 and g.initializer:  # initializer dims or data
            init = g.initializer[int(rng.integers(len(g.initializer)))]
            r = rng.random()
            if r < 0.4 and init.dims:
                init.dims[int(rng.integers(len(init.dims)))] = int(rng.choice(ONNX_I))
            elif r < 0.55:
                init.dims.append(int(rng.choice([1, 2, 0])))
            elif r < 0.7:
                init.data_type = int(rng.choice([1, 2, 3, 5, 6, 7, 9, 10, 11]))
            elif r < 0.85:
                try:
                    arr = nh.to_array(init).copy()
                except ValueError:  # an earlier mutation broke it already
                    continue
                if arr.dtype.kind == "f" and arr.size:
                    arr.reshape(-1)[int(rng.integers(arr.size))] = float(rng.choice(F32))
                    init.CopyFrom(nh.from_array(arr, init.name))
            elif init.raw_data:
                init.raw_data = init.raw_data[: len(init.raw_data) // 2]
        elif what == 5 and g.input:  # a declared input dimension or type
            vi = g.input[int(rng.integers(len(g.input)))]
            dims = vi.type.tensor_type.shape.dim
            if dims and rng.random() < 0.8:
                dims[int(rng.integers(len(dims)))].dim_value = int(rng.choice(ONNX_I))
            else:
                vi.type.tensor_type.elem_type = int(rng.choice([2, 3, 6, 7, 9, 10]))
        elif what == 6:  # an output renamed
            k = int(rng.integers(len(node.output)))
            node.output[k] = str(rng.choice(names))
        elif what == 7:  # the op type swapped
            node.op_type = str(
                rng.choice(
                    [
                        "Conv",
                        "MaxPool",
                        "AveragePool",
                        "Gemm",
                        "MatMul",
                        "Add",
                        "Mul",
                        "Concat",
                        "Softmax",
                        "Reshape",
                        "Transpose",
                        "Pad",
                        "Relu",
                        "GlobalAveragePool",
                        "Flatten",
                        "Squeeze",
                        "Unsqueeze",
                        "Range",
                        "Slice",
                        "Gather",
                        "ConstantOfShape",
                        "Expand",
                        "Cast",
                    ]
                )
            )
        elif what == 8:  # graph outputs
            if rng.random() < 0.5 and g.output:
                g.output[int(rng.integers(len(g.output)))].name = str(rng.choice(names))
            else:
                g.output.add().name = str(rng.choice(names))
        else:  # a node removed
            del g.node[int(rng.integers(len(g.node)))]
            if not g.node:
                break
    return m.SerializeToString()


# --- the worker: bake, run, judge ---------------------------------------------------------------
def _place(tb) -> str:
    """file:line of the innermost frame in upyflow code (else the innermost frame)."""
    frames = traceback.extract_tb(tb)
    ours = [f for f in frames if "upyflow" in f.filename] or frames
    f = ours[-1] if ours else None
    return "%s:%d" % (os.path.relpath(f.filename, HERE.parent), f.lineno) if f else "?"


class _Guarded:
    """Patch the runtime so the pure tier's arena is followed by guard bytes and its typed
    views reach to the end of their buffer, as MicroPython's uctypes views do: a kernel
    writing past its tensor then lands in the guard instead of raising IndexError."""

    def __init__(self) -> None:
        import upyflow.model as model

        self.model = model
        if not hasattr(model, "_alloc") or not hasattr(model, "typed_view"):
            raise RuntimeError("upyflow.model has no _alloc/typed_view: update the fuzz guard")
        self.arenas: list[bytearray] = []

    def __enter__(self):
        model = self.model
        self.saved = model._alloc, model.typed_view
        fmt = {"i8": "b", "u8": "B", "i16": "h", "i32": "i", "f32": "f"}
        size = {"i8": 1, "u8": 1, "i16": 2, "i32": 4, "f32": 4}

        def alloc(nbytes, name, weight_buffer):
            buf = bytearray(nbytes + GUARD)
            buf[nbytes:] = bytes([GUARD_BYTE]) * GUARD
            self.arenas.append(buf)
            return buf

        def typed_view(buf, offset, nbytes, dtype):
            n = (len(buf) - offset) // size[dtype] if offset <= len(buf) else 0
            return memoryview(buf)[offset : offset + n * size[dtype]].cast(fmt[dtype])

        model._alloc, model.typed_view = alloc, typed_view
        return self

    def __exit__(self, *exc):
        self.model._alloc, self.model.typed_view = self.saved


def _load(path: str, name: str):
    from upyflow_tools.runner import load_module

    return load_module(path, name)


def _run_tier(mod, tier: str, inputs: list[bytes], arena_size: int):
    """Outputs of one invoke; for pure, also checks the guard. ('run'|'guard', detail) on failure."""
    import upyflow

    guard = None
    try:
        if tier == "pure":
            with _Guarded() as guard:
                m = upyflow.Model(mod, "pure")
            arena = guard.arenas[-1]
            arena[arena_size : len(arena) - GUARD] = bytes([GUARD_BYTE]) * (len(arena) - GUARD - arena_size)
        else:
            m = upyflow.Model(mod, tier)
        for i, data in enumerate(inputs):
            m.set_input(i, data)
        m.invoke()
        outs = [bytes(m.get_output(i)) for i in range(len(m.output_shape))]
    except Exception as e:
        return "run", "%s tier: %s: %s" % (tier, type(e).__name__, str(e)[:120])
    if guard is not None and any(v != GUARD_BYTE for v in arena[arena_size:]):
        first = next(i for i in range(arena_size, len(arena)) if arena[i] != GUARD_BYTE)
        return "guard", "pure tier wrote %d bytes past the arena end" % (first - arena_size)
    return outs, m.output_dtype


_MPY_RUN = """
import sys
sys.path.insert(0, %(lib)r)
sys.path.insert(0, %(dir)r)
if %(natmod)r:
    sys.path.insert(0, %(natmod)r)
import upyflow.model as M
_arenas = []


def _alloc(nbytes, name, weight_buffer):   # the arena, then guard bytes
    b = bytearray(nbytes + %(guard)d)
    for i in range(nbytes, len(b)):
        b[i] = %(byte)d
    _arenas.append(b)
    return b


M._alloc = _alloc
mod = __import__(%(name)r)
for tier in %(tiers)r:
    print('TIER', tier)
    try:
        m = M.Model(mod, tier)
        a = _arenas[-1]
        for i in range(%(arena)d, len(a) - %(guard)d):   # the slack up to 8-byte alignment too
            a[i] = %(byte)d
        f = open(%(inputs)r, 'rb')
        for i, n in enumerate(%(sizes)r):
            m.set_input(i, f.read(n))
        f.close()
        m.invoke()
        for i in range(len(m.output_shape)):
            print('OUT', bytes(m.get_output(i)).hex())
        bad = [i for i in range(%(arena)d, len(a)) if a[i] != %(byte)d]
        if bad:
            print('GUARD', bad[0] - %(arena)d)
    except Exception as e:
        print('ERR', type(e).__name__, e)
    m = None
    _arenas = []
"""

_natmod = []


def natmod_dir() -> str | None:
    """The folder of an x64 upyflow_native.mpy built from this tree's C sources: the shipped one
    when current, else one built under native_modules/micropython/build with MPY_DIR (None when
    neither: the natmod tier is then left out, said once on stderr)."""
    if _natmod:
        return _natmod[0]
    import subprocess

    from upyflow_tools.deploy import stale_natmod

    shipped = HERE.parent / "host_tools" / "upyflow_tools" / "natmods"
    found = None
    if (shipped / "x64" / "upyflow_native.mpy").exists() and not stale_natmod("x64", str(shipped)):
        found = str(shipped / "x64")
    elif os.environ.get("MPY_DIR"):
        src = HERE.parent / "native_modules" / "micropython"
        proc = subprocess.run(
            [
                sys.executable,
                str(src.parent / "build_natmods.py"),
                "--build-only",
                "--arch=x64",
                "--mpy-dir=" + os.environ["MPY_DIR"],
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode == 0:
            found = str(src / "build" / "x64")
    if found is None:
        print(
            "fuzz: no current x64 natmod (C sources changed; set MPY_DIR to build one): "
            "the MicroPython natmod tier is left out",
            file=sys.stderr,
        )
    _natmod.append(found)
    return found


def micropython_tiers(
    path: str, inputs: list[bytes], arena_size: int, tmpdir: str, exe: str | None = None, tiers: list[str] | None = None
):
    """Outputs of the baked module at path under the MicroPython unix port (`exe`, else
    `micropython`) on the natmod, viper and pure tiers (or `tiers`), each arena followed by
    guard bytes: ({tier: outputs}, None), or (partial, (verdict, detail)) on a crash, hang,
    guard violation or run error."""
    import subprocess

    from upyflow_tools.unixport import DEVICE_LIB, micropython_exe

    exe = exe or micropython_exe()
    if exe is None:
        return {}, None
    name = os.path.basename(path)[:-3]
    inp = os.path.join(tmpdir, name + ".in")
    with open(inp, "wb") as f:
        f.write(b"".join(inputs))
    nat = natmod_dir() if tiers is None or "native" in tiers else None
    tiers = tiers or (["native"] if nat else []) + ["viper", "pure"]
    script = os.path.join(tmpdir, name + "_run.py")
    with open(script, "w") as f:
        f.write(
            _MPY_RUN
            % {
                "lib": DEVICE_LIB,
                "dir": os.path.dirname(path),
                "natmod": nat or "",
                "guard": GUARD,
                "byte": GUARD_BYTE,
                "name": name,
                "tiers": tiers,
                "arena": arena_size,
                "inputs": inp,
                "sizes": [len(x) for x in inputs],
            }
        )
    hang = None
    try:
        proc = subprocess.run([exe, "-X", "heapsize=8M", script], capture_output=True, text=True, timeout=60)
        out, code, err = proc.stdout, proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as e:
        out, code, err = e.stdout or "", None, ""
        out = out.decode() if isinstance(out, bytes) else out
        hang = True
    got, tier, bad = {}, None, None
    for line in out.splitlines():
        word, _, rest = line.partition(" ")
        label = "MicroPython %s tier" % ("natmod" if tier == "native" else tier)
        if word == "TIER":
            tier = rest
            got["mpy-" + tier] = []
        elif tier is None or bad:
            continue
        elif word == "OUT":
            got["mpy-" + tier].append(bytes.fromhex(rest))
        elif word == "GUARD":
            bad = "guard", "%s wrote %s bytes past the arena end" % (label, rest)
        elif word == "ERR":
            bad = "run", "%s: %s" % (label, rest[:120])
    label = "MicroPython %s tier" % ("natmod" if tier == "native" else tier)
    if bad is None and hang:
        bad = "hang", "%s: no result in 60 s" % label
    elif bad is None and (code is None or code < 0 or code):
        bad = "crash", "%s: exit %s %s" % (label, code, err[-120:])
    return {("mpy-natmod" if k == "mpy-native" else k): v for k, v in got.items()}, bad


# --- oracles: TFLM for TFLite, onnxruntime for ONNX, in a child process (either may crash) ------
def _oracle_tflm(model: bytes, inputs: list[bytes]) -> list[np.ndarray]:
    from upyflow_tools.tflm import interpreter

    interp = interpreter(model)
    for i, data in enumerate(inputs):
        d = interp.get_input_details(i)
        dt = np.dtype(d["dtype"])
        if int(np.prod(d["shape"])) * dt.itemsize != len(data):
            raise ValueError("input %d: TFLM wants %s %s" % (i, list(d["shape"]), dt))
        interp.set_input(np.frombuffer(data, dt).reshape(d["shape"]), i)
    try:
        interp.get_input_details(len(inputs))
    except IndexError:
        pass
    else:
        raise ValueError("TFLM has more inputs than the baked model")
    interp.invoke()
    outs = []
    while True:
        try:
            interp.get_output_details(len(outs))
        except IndexError:
            return outs
        outs.append(np.array(interp.get_output(len(outs))))


def _oracle_ort(model: bytes, feeds: dict) -> list[np.ndarray]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"]).run(None, feeds)


def _oracle_serve() -> None:
    """The oracle child (`fuzz.py --oracle`): (kind, model, inputs) pickled on stdin, answers
    ('ok', outputs) or ('refused', why) pickled on stdout; C++ chatter goes to /dev/null."""
    import pickle
    import warnings

    warnings.simplefilter("ignore")
    reply = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    sys.stdout = sys.stderr
    src = sys.stdin.buffer
    while True:
        head = src.read(4)
        if len(head) < 4:
            return
        kind, model, inputs = pickle.loads(src.read(struct.unpack("<I", head)[0]))
        try:
            r = ("ok", _oracle_tflm(model, inputs) if kind == "tflite" else _oracle_ort(model, inputs))
        except Exception as e:
            r = ("refused", "%s: %s" % (type(e).__name__, " ".join(str(e).split())[:120]))
        data = pickle.dumps(r)
        reply.write(struct.pack("<I", len(data)) + data)
        reply.flush()


class Oracle:
    """The oracle child process, restarted after a crash or a hang."""

    def __init__(self, timeout: float = 20.0) -> None:
        self.timeout = timeout
        self.proc = None

    def run(self, kind: str, model: bytes, inputs) -> tuple[str, object]:
        """('ok', outputs) | ('refused' | 'crash' | 'hang', why)."""
        import pickle
        import select
        import subprocess

        if self.proc is None:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--oracle"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        data = pickle.dumps((kind, model, inputs))
        try:
            self.proc.stdin.write(struct.pack("<I", len(data)) + data)
            self.proc.stdin.flush()
            if not select.select([self.proc.stdout], [], [], self.timeout)[0]:
                self.close()
                return "hang", "no answer in %g s" % self.timeout
            head = self.proc.stdout.read(4)
            if len(head) < 4:
                raise BrokenPipeError
            return pickle.loads(self.proc.stdout.read(struct.unpack("<I", head)[0]))
        except (BrokenPipeError, OSError, EOFError):
            code = self.proc.wait()
            self.proc = None
            return "crash", "exit code %s" % code

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


_oracle = []


def onnx_perm(g, name: str, rank: int, is_input: bool, layout: str = "nchw") -> tuple[int, ...]:
    """The axes permutation from ONNX order to the baked model's bytes for graph input or
    output `name` of graph g, by the rule the ONNX reader documents: with the default layout
    (nchw) the file's order; with --input-layout nhwc, rank 4 is NHWC unless only Transposes
    read the input / a Transpose makes the output; rank 3 likewise NLC in a model with 1-D
    convolutions (also transposed) or pools."""
    if layout == "nchw":
        return tuple(range(rank))
    if is_input:
        users = [n.op_type for n in g.node if name in n.input]
        transposed = bool(users) and all(u == "Transpose" for u in users)
    else:
        transposed = [n.op_type for n in g.node if name in n.output] == ["Transpose"]
    if transposed or rank not in (3, 4):
        return tuple(range(rank))
    if rank == 4:
        return (0, 2, 3, 1)
    for n in g.node:
        if n.op_type in ("Conv", "ConvTranspose", "MaxPool", "AveragePool"):
            ks = [a for a in n.attribute if a.name == "kernel_shape"]
            w = [len(i.dims) for i in g.initializer if len(n.input) > 1 and i.name == n.input[1]]
            w += [
                len(v.type.tensor_type.shape.dim)
                for v in g.input  # weights fed as an input
                if len(n.input) > 1 and v.name == n.input[1]
            ]
            if (len(ks[0].ints) if ks else (w[0] - 2 if w else 0)) == 1:
                return (0, 2, 1)
    return (0, 1, 2)


def _onnx_layouts(data: bytes, ninputs: int, noutputs: int):
    """Per graph input and output: onnx_perm's permutation, and the input names. None when
    the graph does not fit."""
    import onnx

    m = onnx.ModelProto()
    m.ParseFromString(data)
    g = m.graph
    inits = {i.name for i in g.initializer}
    ins = [vi for vi in g.input if vi.name not in inits]
    if len(ins) != ninputs or len(g.output) != noutputs:
        return None
    inp = [(vi.name, onnx_perm(g, vi.name, len(vi.type.tensor_type.shape.dim), True)) for vi in ins]
    outp = [lambda rank, name=vo.name: onnx_perm(g, name, rank, False) for vo in g.output]
    return inp, outp


def reference(kind: str, data: bytes, result, inputs: list[bytes], timeout: float = 20.0):
    """The oracle's outputs as the baked model's bytes: ('ok', [bytes]) or (status, why)."""
    if not _oracle:
        _oracle.append(Oracle(timeout))
    if kind == "tflite":
        r = _oracle[0].run("tflite", data, inputs)
        if r[0] != "ok":
            return r
        return "ok", [np.ascontiguousarray(y).tobytes() for y in r[1]]
    lay = _onnx_layouts(data, len(inputs), len(result.baked.outputs))
    if lay is None:
        return "refused", "the ONNX graph's inputs or outputs do not match the baked model's"
    inp, outp = lay
    feeds = {}
    for (name, p), t, raw in zip(inp, result.baked.inputs, inputs):
        shape, dtype = result.baked.tensors[t][4], result.baked.tensors[t][3]
        if dtype != "f32" or len(shape) != len(p):
            return "refused", "input %r: %s %s in the baked model" % (name, dtype, list(shape))
        x = np.frombuffer(raw, np.float32).reshape(shape)
        feeds[name] = np.ascontiguousarray(x.transpose(np.argsort(p)))
    r = _oracle[0].run("onnx", data, feeds)
    if r[0] != "ok":
        return r
    outs = []
    for y, f in zip(r[1], outp):
        y = np.asarray(y)
        if {np.float32: "f32", np.int8: "i8", np.uint8: "u8", np.int16: "i16"}.get(
            y.dtype.type
        ) != result.baked.tensors[result.baked.outputs[len(outs)]][3]:
            return "refused", "onnxruntime gives a %s output" % y.dtype
        outs.append(np.ascontiguousarray(y.transpose(f(y.ndim))).tobytes())
    return "ok", outs


def compare(
    ref: list[bytes],
    outs: list[bytes],
    dtypes,
    tie: bool,
    what: str,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    steps=None,
    onnx: bool = False,
):
    """None when outs match ref: integers byte for byte, float32 within rtol/atol; else
    (verdict, detail). tie: one step apart is a float-tie. steps (ONNX QDQ): per output, its
    quantization step (0: not QDQ-quantized); one step apart there is qdq-lsb, the project's
    "QDQ within 1 LSB of onnxruntime" (README; bake's int8 kernels round ties as TFLM, and
    onnxruntime's unfused float Gemm/Conv then QuantizeLinear may land a .5 on the other
    side). onnx: where onnxruntime overflows to +-inf, the tiers give +-FLT_MAX (the
    TFLite operators' "NONE" activation clamps there, as TFLM does), or, once later layers
    have scaled or summed that clamped value, some other finite value of the same sign:
    counted as ort-overflow when every other value matches."""
    if len(ref) != len(outs):
        return "mismatch", "%s: %d outputs, the reference %d" % (what, len(outs), len(ref))
    for k, (x, y) in enumerate(zip(ref, outs)):
        if len(x) != len(y):
            return "mismatch", "%s: output %d has %d bytes, the reference %d" % (what, k, len(y), len(x))
        step = steps[k] if steps else 0.0
        if dtypes[k] == "f32":
            xa, ya = np.frombuffer(x, np.float32), np.frombuffer(y, np.float32)
            if np.allclose(ya, xa, rtol=rtol, atol=atol, equal_nan=True):
                continue
            if step and np.allclose(ya, xa, rtol=rtol, atol=atol + step * 1.001, equal_nan=True):
                return "qdq-lsb", "%s: output %d (f32) within one QDQ step" % (what, k)
            inf = np.isinf(xa)
            if (
                onnx
                and inf.any()
                and np.all(np.sign(ya[inf]) == np.sign(xa[inf]))
                and np.allclose(ya[~inf], xa[~inf], rtol=rtol, atol=atol, equal_nan=True)
            ):
                return "ort-overflow", "%s: output %d (f32) finite where onnxruntime overflows to +-inf" % (what, k)
            d = np.abs(xa.astype(np.float64) - ya)
            i = int(np.nanargmax(d)) if np.isfinite(d).any() else 0
            return "mismatch", "%s: output %d (f32) differs (%.9g vs %.9g)" % (what, k, ya[i], xa[i])
        if x != y:
            dt = {"i8": np.int8, "u8": np.uint8, "i16": np.int16, "i32": np.int32}[dtypes[k]]
            n = np.abs(np.frombuffer(x, dt).astype(np.int64) - np.frombuffer(y, dt)).max()
            verdict = "qdq-lsb" if step and n <= 1 else "float-tie" if tie and n <= 1 else "mismatch"
            return verdict, "%s: output %d (%s) differs by %d steps" % (what, k, dtypes[k], n)
    return None


PASS_THROUGH = ("TRANSPOSE", "RESHAPE", "MAX_POOL_2D", "STRIDED_SLICE")


def qdq_steps(graph) -> list[float]:
    """Per graph output, its QDQ quantization step: 1 for an int8/uint8/int16 output (a
    QuantizeLinear's), the scale of the int tensor a float output is dequantized from, else 0."""
    producer = {o: op for op in graph.ops for o in op.outputs}
    steps = []
    for t in graph.outputs:
        op, out = producer.get(t), graph.tensors[t]
        # ops that pass values through unchanged (the default layout's output TRANSPOSE, a
        # MaxPool of dequantized values) keep the dequantized tensor's step
        while op is not None and op.kind in PASS_THROUGH and out.dtype == "f32":
            op = producer.get(op.inputs[0])
        if out.dtype in ("i8", "u8", "i16"):
            steps.append(1.0)
        elif op is not None and op.kind == "DEQUANTIZE" and graph.tensors[op.inputs[0]].scale:
            steps.append(float(max(graph.tensors[op.inputs[0]].scale)))
        else:
            steps.append(0.0)
    return steps


def nudge_qdq_scales(data: bytes, factor: float) -> bytes:
    """The ONNX model with every QuantizeLinear's scale initializer multiplied by factor."""
    import onnx
    from onnx import numpy_helper

    m = onnx.ModelProto()
    m.ParseFromString(data)
    scales = {n.input[1] for n in m.graph.node if n.op_type == "QuantizeLinear" and len(n.input) > 1}
    for init in m.graph.initializer:
        if init.name in scales:
            a = numpy_helper.to_array(init)
            if a.dtype == np.float32:
                init.CopyFrom(numpy_helper.from_array((a * np.float32(factor)).astype(np.float32), init.name))
    return m.SerializeToString()


def qdq_tie(data: bytes, result, inputs, outs, dtypes, r, opts):
    """A QDQ mismatch of more than one step that is a rounding tie amplified downstream (a
    Gemm's .5 requantized one step apart from onnxruntime's unfused float Gemm, then doubled
    by an Add): onnxruntime itself gives the tiers' outputs with its QuantizeLinear scales
    nudged by 2^-20 (only values within ~1e-4 step of a tie move). qdq-lsb then, else r."""
    for factor in (1 + 2.0**-20, 1 - 2.0**-20):
        status, ref = reference("onnx", nudge_qdq_scales(data, factor), result, inputs)
        if status == "ok":
            again = compare(ref, outs, dtypes, False, "", **opts)
            if again is None or again[0] == "qdq-lsb":
                return "qdq-lsb", r[1] + ", a rounding tie (onnxruntime's with its scales nudged)"
    return r


FLT_MAX = float(np.finfo(np.float32).max)


# Operators that sum, with their inputs the result is linear in (scaled together, the result
# scales alike): onnxruntime's float sums run in an order of its own (AveragePool adds a
# window column by column: 2.6e38 + 1.8e38 = inf, then -1.5e38 + -2.4e38 = -inf, NaN where
# the exact mean is 1.3e37, and the tiers' row order gives it), so saturate_floats runs them
# at 2^-SUM_EXP, where no partial sum reaches FLT_MAX, and scales the result back.
SUMS = {"AveragePool": (0,), "GlobalAveragePool": (0,), "Conv": (0, 2), "Gemm": (0, 2), "MatMul": (0,)}
SUM_EXP = 16


def saturate_floats(data: bytes, nan_max: bool = True) -> bytes | None:
    """The ONNX model with every float node output saturated at +-FLT_MAX by a Clip (finite
    values and NaN pass unchanged), the sums of SUMS taken at a scale where their partial
    sums cannot overflow, and (nan_max) the NaN inputs of every MaxPool replaced by -FLT_MAX:
    onnxruntime with the TFLite "NONE" activation the tiers' float kernels apply made
    explicit, free of its own summation order past FLT_MAX (a power-of-two scale is exact
    for normal numbers), and with TFLM's MaxPool NaN rule (a window starts at the lowest
    float, a NaN tap never wins), where onnxruntime's own depends on which MLAS path a
    window takes: no one order of the window's taps, either max rule, explains it
    (tests/test_fuzz.py). None when shape inference cannot type the outputs."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.ModelProto()
    m.ParseFromString(data)
    try:
        typed = onnx.shape_inference.infer_shapes(m)
    except Exception:
        return None
    g = typed.graph
    elem = {v.name: v.type.tensor_type.elem_type for v in list(g.value_info) + list(g.output) + list(g.input)}
    elem.update({t.name: t.data_type for t in g.initializer})
    opset = max((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset < 11:
        return None
    consts = {"__fz_lo": -FLT_MAX, "__fz_hi": FLT_MAX, "__fz_down": 2.0**-SUM_EXP, "__fz_up": 2.0**SUM_EXP}
    m.graph.initializer.extend([numpy_helper.from_array(np.array(v, np.float32), n) for n, v in consts.items()])
    nodes = []
    for k, n in enumerate(m.graph.node):
        scaled = [i for i in SUMS.get(n.op_type, ()) if i < len(n.input) and n.input[i]]
        if any(elem.get(n.input[i]) != onnx.TensorProto.FLOAT for i in scaled):
            scaled = []
        for i in scaled:
            down = "%s__fz_down%d_%d" % (n.input[i], k, i)
            nodes.append(helper.make_node("Mul", [n.input[i], "__fz_down"], [down]))
            n.input[i] = down
        if nan_max and n.op_type == "MaxPool" and n.input and elem.get(n.input[0]) == onnx.TensorProto.FLOAT:
            nan, kept = "%s__fz_isnan%d" % (n.input[0], k), "%s__fz_nonan%d" % (n.input[0], k)
            nodes.append(helper.make_node("IsNaN", [n.input[0]], [nan]))
            nodes.append(helper.make_node("Where", [nan, "__fz_lo", n.input[0]], [kept]))
            n.input[0] = kept
        nodes.append(n)
        for i, out in enumerate(n.output):
            if out and elem.get(out) == onnx.TensorProto.FLOAT:
                n.output[i] = raw = out + "__fz_raw"
                if scaled:
                    nodes.append(helper.make_node("Mul", [raw, "__fz_up"], [raw + "_up"]))
                    raw += "_up"
                nodes.append(helper.make_node("Clip", [raw, "__fz_lo", "__fz_hi"], [out]))
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return m.SerializeToString()


def _explains(ref, ref2, outs, dtypes, opts) -> bool:
    """Each output value of outs is ref's (compare's rules, its ort-overflow one included: +-inf
    there, the same sign here), or ref2's, or +-FLT_MAX where ref has inf or a NaN ref2 has not
    (an overflow in onnxruntime: the tiers' own sums overflowed too, where it may not have)."""
    rtol, atol = opts.get("rtol", 1e-5), opts.get("atol", 1e-6)
    steps = opts.get("steps") or [0.0] * len(outs)
    for k, (x, x2, y, d) in enumerate(zip(ref, ref2, outs, dtypes)):
        if d != "f32":
            verdicts = [compare([z], [y], [d], False, "", **dict(opts, steps=[steps[k]])) for z in (x, x2)]
            if all(v is not None and v[0] != "qdq-lsb" for v in verdicts):
                return False
            continue
        xa, xb, ya = (np.frombuffer(b, np.float32) for b in (x, x2, y))
        if len(xa) != len(ya) or len(xb) != len(ya):
            return False
        tol = atol + steps[k] * 1.001
        ok = np.isclose(ya, xa, rtol=rtol, atol=tol, equal_nan=True) | (np.isinf(xa) & (np.sign(ya) == np.sign(xa)))
        ok |= np.isclose(ya, xb, rtol=rtol, atol=tol, equal_nan=True)
        if np.isinf(xa).any() or (np.isnan(xa) & ~np.isnan(xb)).any():
            ok |= np.abs(ya) == FLT_MAX
        if not ok.all():
            return False
    return True


def ort_saturated(data: bytes, result, inputs, ref, outs, dtypes, r, opts, peer=None):
    """A float mismatch where onnxruntime's result is its implementation's, not IEEE's or
    TFLM's: the tier must give the native tier's outputs (peer), and then
    - ort-overflow: onnxruntime overflowed (+-inf, NaN of inf - inf in an average, softmax of
      inf) where the tiers' float kernels saturate at +-FLT_MAX as TFLite's "NONE"
      activation does. Past FLT_MAX a float32 sum depends on its accumulation order
      (onnxruntime's AveragePool adds a window column by column, the tiers row by row as
      TFLM), so neither order is the reference: each output value is onnxruntime's own, or
      its own with every float result saturated and its sums taken where they cannot
      overflow (saturate_floats), or +-FLT_MAX where onnxruntime overflowed too (a sum of
      the tiers' overflowed where onnxruntime's did not; its sign is the order's, not the
      exact sum's: 2.6e38 + 1.8e38 - 2.2e38 - 2.2e38 is +inf in row order);
    - ort-nan: NaN reached a MaxPool, and onnxruntime with its MaxPool NaN taps replaced by
      -FLT_MAX (TFLM's rule, the tiers') gives the tiers' outputs;
    else r."""
    if peer is not None and compare(peer, outs, dtypes, False, "") is not None:
        return r
    finite = all(np.isfinite(np.frombuffer(x, np.float32)).all() for x, d in zip(ref, dtypes) if d == "f32")
    for nan_max, verdict in ((False, "ort-overflow"), (True, "ort-nan")):
        if not nan_max and finite:  # no overflow reached onnxruntime's outputs
            continue
        sat = saturate_floats(data, nan_max)
        if sat is None:
            return r
        if nan_max and b"MaxPool" not in data:
            return r
        status, ref2 = reference("onnx", sat, result, inputs)
        if status == "ok" and len(ref2) == len(outs) and _explains(ref, ref2, outs, dtypes, opts):
            why = "past FLT_MAX" if verdict == "ort-overflow" else "NaN through MaxPool"
            return verdict, r[1] + ", %s: onnxruntime's own or as the tiers'" % why
    return r


def judge(name: str, data: bytes, seed: int, tmpdir: str) -> tuple[str, str]:
    """(verdict, detail) of one mutant."""
    from upyflow_tools import BakeError
    from upyflow_tools.bake import compile_model
    from upyflow_tools.emit import module_source

    try:
        result = compile_model(name, "fz", data=data)
        src = module_source(result.baked, "fz")
    except BakeError as e:
        msg = str(e)
        if not msg or "\n" in msg:
            return "multiline", msg[:200]
        # the ONNX reader's last line of defence: one line, but a check is missing
        return ("backstop", msg[:200]) if msg.startswith("malformed ONNX model at") else ("rejected", msg)
    except MemoryError:
        return "oom", "MemoryError at %s" % _place(sys.exc_info()[2])
    except RecursionError:
        return "traceback", "RecursionError at %s" % _place(sys.exc_info()[2])
    except Exception as e:
        return "traceback", "%s at %s: %s" % (type(e).__name__, _place(sys.exc_info()[2]), str(e)[:100])
    if result.arena_size > MAX_RUN_ARENA:
        return "skipped", "arena %d bytes" % result.arena_size
    path = os.path.join(tmpdir, "fz%d.py" % seed)
    with open(path, "w") as f:
        f.write(src)
    mod = _load(path, "fz%d" % seed)
    rng = np.random.default_rng(seed)
    inputs = []
    for t in result.baked.inputs:
        _w, _off, nbytes, dtype = result.baked.tensors[t][:4]
        if dtype == "f32":
            inputs.append(rng.uniform(-2, 2, nbytes // 4).astype(np.float32).tobytes())
        else:
            inputs.append(rng.integers(0, 256, nbytes, dtype=np.uint8).tobytes())
    got = {}
    import upyflow.dispatch as dispatch

    for tier in ("native", "pure"):
        if tier == "native" and not dispatch.available("native"):
            continue
        r = _run_tier(mod, tier, inputs, result.arena_size)
        if isinstance(r[0], str):
            return r
        got[tier], dtypes = r
    if os.environ.get("FUZZ_MICROPYTHON"):
        mp_got, bad = micropython_tiers(path, inputs, result.arena_size, tmpdir)
        if bad is not None:
            return bad
        got.update(mp_got)
    # A float result quantized (QUANTIZE of a float kernel's output) may land on the other
    # side of a rounding tie: float kernels agree within 1e-5, not bit for bit.
    tie = any(c[0] == "quantize_f32" for c in result.baked.calls)
    kind = "onnx" if name.endswith(".onnx") else "tflite"
    note = None
    if os.environ.get("FUZZ_ORACLE", "1") != "0":
        status, ref = reference(kind, data, result, inputs)
        if status != "ok":
            note = ("tflm-" if kind == "tflite" else "ort-") + status, str(ref)
    else:
        status = None
    if status == "ok":
        oracle = "TFLM" if kind == "tflite" else "onnxruntime"
        if kind == "onnx":  # onnxruntime's own float order; QDQ outputs within one step
            opts = dict(rtol=1e-4, atol=1e-5, steps=qdq_steps(result.graph), onnx=True)
        else:
            opts = {}
    else:  # no oracle: the tiers against the CPython native (else pure) tier
        oracle, ref = ("native" if "native" in got else "pure"), None
        ref = got[oracle]
        opts = {}
    worst = None
    for tier, outs in got.items():
        if tier == oracle:
            continue
        r = compare(ref, outs, dtypes, tie, "%s vs %s" % (tier, oracle), **opts)
        if r is not None and r[0] == "mismatch" and oracle == "onnxruntime" and any(opts["steps"]):
            r = qdq_tie(data, result, inputs, outs, dtypes, r, opts)
        if r is not None and r[0] == "mismatch" and oracle == "onnxruntime":
            r = ort_saturated(data, result, inputs, ref, outs, dtypes, r, opts, got.get("native"))
        if r is not None and r[0] == "mismatch":
            return r
        worst = r if worst is None or (r is not None and r[0] in NOTES) else worst
    if worst is not None:
        return worst
    return note or ("ok", "")


def _worker(conn, mem_limit: int) -> None:
    import resource
    import warnings

    warnings.simplefilter("ignore")
    np.seterr(all="ignore")
    if mem_limit:
        resource.setrlimit(resource.RLIMIT_AS, (mem_limit, mem_limit))
    sys.path.insert(0, str(HERE))
    with tempfile.TemporaryDirectory() as tmpdir:
        while True:
            job = conn.recv()
            if job is None:
                return
            name, data, seed = job
            conn.send(("start", ""))
            try:
                conn.send(judge(name, data, seed, tmpdir))
            except MemoryError:
                conn.send(("oom", "MemoryError outside bake"))
            except Exception as e:
                conn.send(("traceback", "harness: %s: %s" % (type(e).__name__, e)))


class Pool:
    """One worker process at a time per slot; a hung or dead worker is replaced."""

    def __init__(self, timeout: float, mem_limit: int = MEM_LIMIT) -> None:
        self.timeout = timeout
        self.mem_limit = mem_limit
        self.ctx = mp.get_context("spawn")
        self.proc = None

    def _start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, self.mem_limit), daemon=True)
        self.proc.start()
        child.close()

    def _kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join()
            self.proc = None

    def run(self, name: str, data: bytes, seed: int) -> tuple[str, str]:
        if self.proc is None:
            self._start()
        self.conn.send((name, data, seed))
        try:
            # the first reply says the worker is ready (imports can take a while)
            if not self.conn.poll(60):
                raise EOFError
            self.conn.recv()
            if not self.conn.poll(self.timeout):
                self._kill()
                return "hang", "no verdict after %g s" % self.timeout
            return self.conn.recv()
        except (EOFError, OSError):
            code = self.proc.exitcode if self.proc is not None else None
            self._kill()
            return "crash", "worker died (exit code %s)" % code

    def close(self) -> None:
        if self.proc is not None:
            try:
                self.conn.send(None)
                self.proc.join(5)
            finally:
                self._kill()


def mutants(kind: str, count: int, seed: int, quick: bool):
    """(seed name, mutant bytes, mutant seed) for `count` mutants, round-robin over the seeds."""
    pool = seeds(kind, quick)
    names = sorted(pool)
    rng = np.random.default_rng(seed)
    for k in range(count):
        name = names[k % len(names)]
        sub = np.random.default_rng([seed, k])
        data = pool[name]
        data = mutate_onnx(data, sub) if name.endswith(".onnx") else mutate_tflite(data, sub)
        yield name, data, int(rng.integers(1 << 30))


def fuzz(
    kind: str, count: int, seed: int, timeout: float = 20.0, quick: bool = False, save: str | None = None, log=None
) -> dict:
    """Run count mutants; {'counts': Counter of (verdict, kind), 'findings': {(verdict, detail):
    (seed name, k, detail)}, 'notes': the same for the oracle's refusals, crashes and hangs}."""
    counts, findings, notes = Counter(), {}, {}
    pool = Pool(timeout)
    try:
        for k, (name, data, sub) in enumerate(mutants(kind, count, seed, quick)):
            verdict, detail = pool.run(name, data, sub)
            counts[(verdict, "onnx" if name.endswith(".onnx") else "tflite")] += 1
            if verdict in NOTES:
                notes.setdefault((verdict, detail[:40]), (name, k, detail))
            elif verdict not in GOOD:
                key = (
                    verdict,
                    detail.split(": ")[0]
                    if verdict == "traceback"
                    else detail.split("(")[-1].split(":")[0] + detail.split("'")[0]
                    if verdict == "backstop"
                    else detail[:80],
                )
                if key not in findings:
                    findings[key] = (name, k, detail)
                    if save:
                        os.makedirs(save, exist_ok=True)
                        ext = ".onnx" if name.endswith(".onnx") else ".tflite"
                        Path(save, "%s_%d%s" % (verdict, k, ext)).write_bytes(data)
                if log:
                    log("%s %d %s: %s %s" % (name, k, "", verdict, detail))
    finally:
        pool.close()
    return {"counts": counts, "findings": findings, "notes": notes}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=int(os.environ.get("FUZZ_COUNT", 2000)))
    p.add_argument(
        "--seed", type=int, default=int(os.environ.get("FUZZ_SEED", 0) or zlib.crc32(str(time.time()).encode()))
    )
    p.add_argument("--kind", choices=("tflite", "onnx", "both"), default="both")
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--save", help="write one mutant per distinct finding into this folder")
    p.add_argument("-v", action="store_true", help="print every finding as it happens")
    a = p.parse_args(argv)
    t0 = time.time()
    kinds = ("tflite", "onnx") if a.kind == "both" else (a.kind,)
    bad = 0
    print("seed %d" % a.seed)
    for kind in kinds:
        r = fuzz(kind, a.count, a.seed, a.timeout, save=a.save, log=print if a.v else None)
        c = r["counts"]
        total = sum(c.values())
        by = Counter()
        for (verdict, _), n in c.items():
            by[verdict] += n
        print("%s: %d mutants: %s" % (kind, total, ", ".join("%s %d" % kv for kv in sorted(by.items()))))
        for (verdict, _), (name, k, detail) in sorted(r["findings"].items()):
            print("  %-9s %s #%d: %s" % (verdict, name, k, detail))
        for (verdict, _), (name, k, detail) in sorted(r["notes"].items()):
            print("  note: %-12s %s #%d: %s" % (verdict, name, k, detail))
        bad += sum(n for (verdict, _), n in c.items() if verdict not in GOOD + NOTES)
    print("%.0f s" % (time.time() - t0))
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--oracle"]:
        sys.exit(_oracle_serve())
    sys.exit(main())
