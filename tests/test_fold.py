"""Constant folding (upyflow_tools.fold): ops whose inputs are all known at bake time run on
the host and become constants. Generated models compare with the TFLM interpreter, which
runs the same ops at run time."""

from __future__ import annotations

import numpy as np
import pytest

from harness import assert_bit_exact, bake_model, load_cpython, random_input, run_tflm, run_upyflow
from tflite_writer import ModelWriter
from upyflow_tools import BakeError
from upyflow_tools.bake import compile_model


def _flatten_by_shape() -> bytes:
    """Keras Flatten at a dynamic batch: SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE."""
    w = ModelWriter()
    x = w.tensor([1, 2, 3, 4], "float32")
    shp = w.tensor([4], "int32")
    w.op("SHAPE", [x], [shp], out_type=tflite_int32())
    batch = w.tensor([], "int32")
    b, e, s = (w.tensor([1], "int32", data=np.array([v])) for v in (0, 1, 1))
    w.op("STRIDED_SLICE", [shp, b, e, s], [batch], shrink_axis_mask=1)
    rest = w.tensor([], "int32", data=np.array(24))
    new = w.tensor([2], "int32")
    w.op("PACK", [batch, rest], [new], values_count=2, axis=0)
    y = w.tensor([1, 24], "float32")
    w.op("RESHAPE", [x, new], [y])
    out = w.tensor([1, 24], "float32")
    w.op("RELU", [y], [out])
    return w.build([x], [out])


def tflite_int32() -> int:
    import tflite

    return tflite.TensorType.INT32


def _fill_gather_cast() -> bytes:
    """x + FILL(dims, 0.5) * CAST(GATHER(table, idx)) + TRANSPOSE(CONCATENATION(c1, c2))."""
    w = ModelWriter()
    x = w.tensor([1, 2, 3], "float32")
    dims = w.tensor([3], "int32", data=np.array([1, 2, 3]))
    half = w.tensor([], "float32", data=np.array(0.5))
    filled = w.tensor([1, 2, 3], "float32")
    w.op("FILL", [dims, half], [filled])
    table = w.tensor([4, 2, 3], "float32", data=np.arange(24).reshape(4, 2, 3) * 0.7 - 9.1)
    idx = w.tensor([1], "int32", data=np.array([2]))
    picked = w.tensor([1, 2, 3], "float32")
    w.op("GATHER", [table, idx], [picked], axis=0)
    as_int = w.tensor([1, 2, 3], "int32")
    w.op("CAST", [picked], [as_int])  # truncates toward zero
    as_float = w.tensor([1, 2, 3], "float32")
    w.op("CAST", [as_int], [as_float])
    prod = w.tensor([1, 2, 3], "float32")
    w.op("MUL", [filled, as_float], [prod])
    c1 = w.tensor([1, 3, 1], "float32", data=np.array([1.5, -2.0, 3.25]))
    c2 = w.tensor([1, 3, 1], "float32", data=np.array([0.25, 4.0, -1.0]))
    cat = w.tensor([1, 3, 2], "float32")
    w.op("CONCATENATION", [c1, c2], [cat], axis=2)
    perm = w.tensor([3], "int32", data=np.array([0, 2, 1]))
    tr = w.tensor([1, 2, 3], "float32")
    w.op("TRANSPOSE", [cat, perm], [tr])
    s1 = w.tensor([1, 2, 3], "float32")
    w.op("ADD", [x, prod], [s1])
    out = w.tensor([1, 2, 3], "float32")
    w.op("ADD", [s1, tr], [out])
    return w.build([x], [out])


def _int8_concat_const() -> bytes:
    """int8 ADD of the input and a CONCATENATION of two int8 constants (same quantization)."""
    w = ModelWriter()
    x = w.tensor([1, 2, 4], "int8", 0.05, 3)
    c1 = w.tensor([1, 1, 4], "int8", 0.04, -2, data=np.array([-100, -5, 7, 120]))
    c2 = w.tensor([1, 1, 4], "int8", 0.04, -2, data=np.array([60, 0, -128, 127]))
    cat = w.tensor([1, 2, 4], "int8", 0.04, -2)
    w.op("CONCATENATION", [c1, c2], [cat], axis=1)
    out = w.tensor([1, 2, 4], "int8", 0.08, 1)
    w.op("ADD", [x, cat], [out])
    return w.build([x], [out])


MODELS = {
    "flatten_by_shape": _flatten_by_shape,
    "fill_gather_cast": _fill_gather_cast,
    "int8_concat_const": _int8_concat_const,
}


@pytest.mark.parametrize("model", list(MODELS))
def test_folded_model_matches_tflm(model, tier, tmp_path):
    data = MODELS[model]()
    mdir, name, result = bake_model(data, tmp_path)
    kinds = {result.graph.ops[c.op_index].kind for c in result.calls}
    assert not kinds & {"SHAPE", "STRIDED_SLICE", "PACK", "FILL", "GATHER", "CAST", "CONCATENATION", "TRANSPOSE"}
    m = load_cpython(mdir, name, tier)
    rng = np.random.default_rng(3)
    for _ in range(5):
        assert_bit_exact(data, m, [random_input(rng, m.input_dtype[0], m.input_shape[0])])


def _fp16_add(weights_dtype: str) -> bytes:
    """x + DEQUANTIZE(float16 constant); the oracle stores the same values as float32."""
    w = ModelWriter()
    vals = np.array([0.1, -2.5, 1e-3, 65504.0, -0.33325, 7.0]).astype(np.float16)
    x = w.tensor([1, 6], "float32")
    if weights_dtype == "float16":
        c16 = w.tensor([1, 6], "float16", data=vals)
        c = w.tensor([1, 6], "float32")
        w.op("DEQUANTIZE", [c16], [c])
    else:
        c = w.tensor([1, 6], "float32", data=vals.astype(np.float32))
    out = w.tensor([1, 6], "float32")
    w.op("ADD", [x, c], [out])
    return w.build([x], [out])


def test_fp16_constant_dequantize_folds(tier, tmp_path):
    mdir, name, result = bake_model(_fp16_add("float16"), tmp_path)
    assert "folded at bake time: DEQUANTIZE" in result.graph.notes
    m = load_cpython(mdir, name, tier)
    ref = _fp16_add("float32")
    rng = np.random.default_rng(5)
    for _ in range(4):
        x = random_input(rng, "f32", (1, 6))
        np.testing.assert_allclose(run_upyflow(m, [x])[0], run_tflm(ref, [x])[0], rtol=1e-5, atol=1e-6)


def _many_problems() -> bytes:
    """DENSIFY, SIGN, a float16 activation and an int16 FULLY_CONNECTED variant in one model."""
    w = ModelWriter()
    x = w.tensor([1, 4], "float32")
    g = w.tensor([1, 4], "float32")
    w.op("DENSIFY", [x], [g])
    f = w.tensor([1, 4], "float16")
    w.op("CAST", [g], [f])
    h = w.tensor([1, 4], "float32")
    w.op("DEQUANTIZE", [f], [h])
    out = w.tensor([1, 4], "float32")
    w.op("SIGN", [h], [out])
    return w.build([x], [out])


def test_every_problem_listed_at_once_with_hints():
    with pytest.raises(BakeError) as e:
        compile_model("x.tflite", data=_many_problems())
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("unsupported operators DENSIFY (")  # CAST runs (integer types)
    assert ", SIGN; " in msg and "sparse weights" in msg  # the DENSIFY hint
    assert "float16 tensor 't2'" in msg and "float16 weights are folded" in msg
    assert msg.endswith(
        "upyflow supports " + ", ".join(__import__("upyflow_tools.lower", fromlist=["x"]).supported_ops())
    )


def test_dynamic_batch_reported(tmp_path):
    """The converter's shape_signature -1 (Keras' batch None) becomes 1, and bake says so."""
    from pathlib import Path

    path = Path(__file__).resolve().parent / "models" / "keras_cnn_int8.tflite"
    result = compile_model(str(path))
    assert any(n.startswith("dynamic batch dimension set to 1: input ") for n in result.graph.notes)


def test_readme_lists_every_hint():
    from pathlib import Path

    from upyflow_tools.lower.core import HINTS, TYPE_HINTS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for k, v in HINTS.items():
        assert "| %s | %s |" % (k, v) in readme
    for k, v in TYPE_HINTS.items():
        assert "| %s tensors | %s |" % (k, v) in readme


def test_readme_lists_every_onnx_hint():
    from pathlib import Path

    from upyflow_tools.readers.onnx import ONNX_HINTS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for k, v in ONNX_HINTS.items():
        assert "| ONNX %s | %s |" % (k, v) in readme


# Arithmetic on constants: TFLM computes it at run time, bake folds it (numpy); each feeds an
# ADD with the model input so the folded constant reaches the output.
FOLD_BINARY = ["ADD", "SUB", "MUL", "DIV", "FLOOR_DIV", "FLOOR_MOD", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE"]
FOLD_UNARY = ["NEG", "ABS", "SQRT", "RSQRT", "EXP", "LOG", "SQUARE", "FLOOR", "CEIL", "ROUND"]
FOLD_REDUCE = ["SUM", "REDUCE_MAX", "REDUCE_MIN", "MEAN"]


def _const_arith(op: str, dtype: str) -> bytes:
    w = ModelWriter()
    a_vals = np.array([[2.5, -3.75, 7.0, -0.5, 1.25, -6.5]])
    b_vals = np.array([[2.0, 1.5, -3.0, 0.75, -2.5, 4.0]])
    if dtype == "int32":
        a_vals, b_vals = np.array([[7, -7, 9, -9, 100, 3]]), np.array([[2, 2, -4, -4, 7, -5]])
    x = w.tensor([1, 6], "float32")
    c = w.tensor([1, 6], dtype)
    if op in FOLD_UNARY:
        a = w.tensor([1, 6], dtype, data=np.abs(a_vals) if op in ("SQRT", "RSQRT", "LOG") else a_vals)
        w.op(op, [a], [c])
    elif op in FOLD_REDUCE:
        a = w.tensor([2, 6], dtype, data=np.concatenate([a_vals, b_vals]))
        axis = w.tensor([1], "int32", data=np.array([0]))
        w.op(op, [a, axis], [c], keep_dims=True)
    else:
        a, b = w.tensor([1, 6], dtype, data=a_vals), w.tensor([1, 6], dtype, data=b_vals)
        w.op(op, [a, b], [c])
    if dtype == "int32":
        cf = w.tensor([1, 6], "float32")
        w.op("CAST", [c], [cf])
        c = cf
    out = w.tensor([1, 6], "float32")
    w.op("ADD", [x, c], [out])
    return w.build([x], [out])


FOLD_CASES = [(op, "float32") for op in FOLD_BINARY + FOLD_UNARY + FOLD_REDUCE] + [
    (op, "int32") for op in ["ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE"]
]


@pytest.mark.parametrize("op,dtype", FOLD_CASES)
def test_constant_arithmetic_folds_as_tflm_computes(op, dtype, tmp_path):
    data = _const_arith(op, dtype)
    mdir, name, result = bake_model(data, tmp_path)
    assert [result.graph.ops[c.op_index].kind for c in result.calls] == ["ADD"]  # all else folded
    m = load_cpython(mdir, name, "pure")
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(1, 6)
    np.testing.assert_allclose(run_upyflow(m, [x])[0], run_tflm(data, [x])[0], rtol=1e-6, atol=0)
