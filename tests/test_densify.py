"""Sparse weights (TFLite SparsityParameters, the DENSIFY operator) densified at bake time.

TFLite Micro has no DENSIFY kernel, so the oracle is TFLM running the same model written
dense (the weights before the test's writer stored them sparse); the reader's decoding
is also checked against tensors whose dense values are worked out by hand from the
schema's description, independently of the writer's encoder."""

from __future__ import annotations

import numpy as np
import pytest

from harness import assert_bit_exact, bake_model, load_cpython, random_input, run_tflm, run_upyflow
from tflite_writer import ModelWriter, add_quant_weights
from upyflow_tools import BakeError
from upyflow_tools.bake import compile_model
from upyflow_tools.readers.tflite import read_tflite

# Hand-worked tensors: (shape, stored values, sparsity parameters, dense values).
# 4x6 in 2x3 blocks, block rows dense, block columns CSR: block (0, 1) and block (1, 0).
BLOCKED = (
    (4, 6),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    dict(
        traversal_order=[0, 1, 2, 3],
        block_map=[0, 1],
        index_type="uint8",
        dim_metadata=[("DENSE", 2, None, None), ("SPARSE_CSR", 0, [0, 1, 2], [1, 0])]
        + [("DENSE", 2, None, None), ("DENSE", 3, None, None)],
    ),
    [[0, 0, 0, 1, 2, 3], [0, 0, 0, 4, 5, 6], [7, 8, 9, 0, 0, 0], [10, 11, 12, 0, 0, 0]],
)
# 3x4 walked column by column (traversal 1, 0): columns dense, rows CSR (CSC).
COLUMNS = (
    (3, 4),
    [5, 6, 7, 8],
    dict(
        traversal_order=[1, 0],
        block_map=[],
        index_type="int32",
        dim_metadata=[("DENSE", 4, None, None), ("SPARSE_CSR", 0, [0, 1, 1, 3, 4], [2, 0, 1, 1])],
    ),
    [[0, 0, 6, 0], [0, 0, 7, 8], [5, 0, 0, 0]],
)
# 2x3, both levels CSR (uint16 indices): row 0 absent, row 1 holds columns 0 and 2.
BOTH_CSR = (
    (2, 3),
    [-3, 9],
    dict(
        traversal_order=[0, 1],
        block_map=[],
        index_type="uint16",
        dim_metadata=[("SPARSE_CSR", 0, [0, 1], [1]), ("SPARSE_CSR", 0, [0, 2], [0, 2])],
    ),
    [[0, 0, 0], [-3, 0, 9]],
)


def _densify_model(shape, data, sparsity) -> bytes:
    """A graph input x (1, cols), DENSIFY of the sparse float32 constant, FULLY_CONNECTED."""
    w = ModelWriter()
    x = w.tensor([1, shape[1]], "float32")
    c = w.tensor(list(shape), "float32", data=np.asarray(data, np.float32), sparsity=sparsity)
    d = w.tensor(list(shape), "float32")
    w.op("DENSIFY", [c], [d])
    y = w.tensor([1, shape[0]], "float32")
    w.op("FULLY_CONNECTED", [x, d, -1], [y])
    return w.build([x], [y])


@pytest.mark.parametrize("case", [BLOCKED, COLUMNS, BOTH_CSR], ids=["blocks", "columns", "csr-csr"])
def test_reader_densifies_hand_worked_tensors(case):
    shape, values, sp, dense = case
    graph = read_tflite(_densify_model(shape, values, sp))
    t = graph.tensors[1]
    assert t.sparse and t.shape == shape
    np.testing.assert_array_equal(t.data, np.array(dense, np.float32))


@pytest.mark.parametrize("case", [BLOCKED, COLUMNS, BOTH_CSR], ids=["blocks", "columns", "csr-csr"])
def test_hand_worked_densify_fc_float32_matches_tflm_dense(case, tmp_path):
    shape, values, sp, dense = case
    mdir, name, result = bake_model(_densify_model(shape, values, sp), tmp_path)
    assert "folded at bake time: DENSIFY" in result.graph.notes
    m = load_cpython(mdir, name, "pure")
    w = ModelWriter()
    x = w.tensor([1, shape[1]], "float32")
    c = w.tensor(list(shape), "float32", data=np.array(dense, np.float32))
    y = w.tensor([1, shape[0]], "float32")
    w.op("FULLY_CONNECTED", [x, c, -1], [y])
    ref = w.build([x], [y])
    rng = np.random.default_rng(3)
    for _ in range(3):
        xi = random_input(rng, "f32", (1, shape[1]))
        np.testing.assert_allclose(run_upyflow(m, [xi])[0], run_tflm(ref, [xi])[0], rtol=1e-5, atol=1e-6)


# sparse_encode keywords: row CSR, TFLite's int8 block layout (1 x 4 blocks along the
# input dimension), column-major CSC with int32 indices, both levels CSR with uint16
SPARSITIES = {
    "rows": dict(formats=["DENSE", "SPARSE_CSR"]),
    "blocks1x4": dict(formats=["DENSE", "SPARSE_CSR", "DENSE"], block_map=[1], block=[4]),
    "columns": dict(formats=["DENSE", "SPARSE_CSR"], traversal_order=[1, 0], index_type="int32"),
    "csr-csr": dict(formats=["SPARSE_CSR", "SPARSE_CSR"], index_type="uint16"),
}
# TFLite's int8 sparse FULLY_CONNECTED kernel takes 1 x 16 blocks
FC_BLOCKS = dict(formats=["DENSE", "SPARSE_CSR", "DENSE"], block_map=[1], block=[16])


def _pruned_fc(rng, sparsity: dict | None, out_quant: bool = True, via_densify: bool = True) -> bytes:
    """int8 FULLY_CONNECTED whose pruned weights (half the blocks of 4, one output row and
    scattered elements zero) are stored sparse behind a DENSIFY (or read sparse directly:
    TFLite's sparse FULLY_CONNECTED), or dense (sparsity None)."""
    w = ModelWriter()
    xs, xz = 0.05, 3
    x = w.tensor([1, 32], "int8", xs, xz)
    wi, bi, w_q, w_scale, _ = add_quant_weights(w, rng, [12, 32], 0, xs)
    w_q = w_q.copy()
    w_q.reshape(12, 8, 4)[:, rng.random(8) < 0.5] = 0
    w_q[5] = 0
    w_q[rng.random(w_q.shape) < 0.2] = 0
    # the writer's tensors are append-only: add the weights again as they are meant
    c = w.tensor([12, 32], "int8", list(w_scale), 0, data=w_q, sparsity=sparsity)
    if sparsity is not None and via_densify:
        d = w.tensor([12, 32], "int8", *((list(w_scale), 0) if out_quant else ()))
        w.op("DENSIFY", [c], [d])
        c = d
    y = w.tensor([1, 12], "int8", 0.4, -5)
    w.op("FULLY_CONNECTED", [x, c, bi], [y])
    return w.build([x], [y])


@pytest.mark.parametrize("layout", sorted(SPARSITIES))
def test_densify_fc_int8_byte_identical_to_tflm_dense(layout, tier, tmp_path):
    sparse = _pruned_fc(np.random.default_rng(11), SPARSITIES[layout])
    dense = _pruned_fc(np.random.default_rng(11), None)
    g = read_tflite(sparse)
    stored = [t for t in g.tensors if t.sparse]
    assert len(stored) == 1 and not stored[0].variable
    mdir, name, _ = bake_model(sparse, tmp_path)
    m = load_cpython(mdir, name, tier)
    rng = np.random.default_rng(12)
    inputs = [rng.integers(-128, 128, size=(1, 32)).astype(np.int8) for _ in range(6)]
    for xi in inputs:
        assert_bit_exact(dense, m, [xi])


def test_densify_output_without_quantization_takes_the_weights(tmp_path):
    """The converter may leave DENSIFY's int8 output without parameters: it means what the input does."""
    sparse = _pruned_fc(np.random.default_rng(21), SPARSITIES["blocks1x4"], out_quant=False)
    dense = _pruned_fc(np.random.default_rng(21), None)
    mdir, name, _ = bake_model(sparse, tmp_path)
    m = load_cpython(mdir, name, "pure")
    xi = np.random.default_rng(22).integers(-128, 128, size=(1, 32)).astype(np.int8)
    assert_bit_exact(dense, m, [xi])


def _sparse_conv(rng, sparse: bool, fp16: bool) -> bytes:
    """float32 CONV_2D whose pruned filter is stored sparse (float16 behind a DEQUANTIZE, as
    the converter stores fp16 sparse weights) or dense float32 with the same values."""
    filt = rng.normal(size=(6, 3, 3, 4)).astype(np.float16 if fp16 else np.float32)
    filt[:, 1] = 0
    filt[2] = 0
    filt[np.abs(filt) < 0.5] = 0
    w = ModelWriter()
    x = w.tensor([1, 5, 5, 4], "float32")
    if sparse:
        sp = dict(formats=["DENSE", "SPARSE_CSR", "DENSE", "DENSE"])
        c = w.tensor([6, 3, 3, 4], "float16" if fp16 else "float32", data=filt, sparsity=sp)
        d = w.tensor([6, 3, 3, 4], "float16" if fp16 else "float32")
        w.op("DENSIFY", [c], [d])
        if fp16:
            f = w.tensor([6, 3, 3, 4], "float32")
            w.op("DEQUANTIZE", [d], [f])
            d = f
    else:
        d = w.tensor([6, 3, 3, 4], "float32", data=filt.astype(np.float32))
    b = w.tensor([6], "float32", data=rng.normal(size=6).astype(np.float32))
    y = w.tensor([1, 5, 5, 6], "float32")
    w.op("CONV_2D", [x, d, b], [y])
    return w.build([x], [y])


@pytest.mark.parametrize("fp16", [False, True], ids=["f32", "f16"])
def test_densify_conv2d_float_matches_tflm_dense(fp16, tier, tmp_path):
    sparse = _sparse_conv(np.random.default_rng(31), True, fp16)
    dense = _sparse_conv(np.random.default_rng(31), False, fp16)
    mdir, name, result = bake_model(sparse, tmp_path)
    assert "DENSIFY" in result.graph.notes[-1] and ("DEQUANTIZE" in result.graph.notes[-1]) == fp16
    m = load_cpython(mdir, name, tier)
    rng = np.random.default_rng(32)
    for _ in range(3):
        assert_bit_exact(dense, m, [random_input(rng, "f32", (1, 5, 5, 4))])


@pytest.mark.parametrize("layout", ["fc-blocks1x16", "rows"])
def test_sparse_fc_weights_densified_byte_identical_to_tflm_dense(layout, tier, tmp_path):
    """TFLite's sparse FULLY_CONNECTED (weights read sparse, no DENSIFY) computes the dense
    layer; TFLite Micro has no sparse kernel and reads the stored values as dense bytes
    (beyond them too: its output changes from run to run). Bake densifies the weights:
    TFLM's bytes on the model written dense."""
    sparsity = FC_BLOCKS if layout == "fc-blocks1x16" else SPARSITIES[layout]
    sparse = _pruned_fc(np.random.default_rng(61), sparsity, via_densify=False)
    dense = _pruned_fc(np.random.default_rng(61), None)
    mdir, name, result = bake_model(sparse, tmp_path)
    assert "sparse FULLY_CONNECTED weights densified at bake time ('t4')" in result.graph.notes
    m = load_cpython(mdir, name, tier)
    rng = np.random.default_rng(62)
    for _ in range(5):
        assert_bit_exact(dense, m, [rng.integers(-128, 128, size=(1, 32)).astype(np.int8)])


def test_sparse_weights_of_other_operators_refused_in_one_line():
    """Only DENSIFY and FULLY_CONNECTED take sparse weights in TFLite; a sparse CONV_2D filter
    TFLite Micro would read as dense bytes."""
    w = ModelWriter()
    x = w.tensor([1, 4, 4, 2], "float32")
    filt = np.zeros((3, 1, 1, 2), np.float32)
    filt[1, 0, 0, 1] = 2.0
    sp = dict(formats=["SPARSE_CSR", "DENSE", "DENSE", "DENSE"])
    c = w.tensor([3, 1, 1, 2], "float32", data=filt, sparsity=sp, name="w")
    y = w.tensor([1, 4, 4, 3], "float32", name="y")
    w.op("CONV_2D", [x, c, -1], [y])
    with pytest.raises(BakeError) as e:
        compile_model("x.tflite", data=w.build([x], [y]))
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("CONV_2D 'y' reads 'w' stored sparse: TFLite takes sparse weights only through DENSIFY")
    from upyflow_tools.inspect_model import check_ops

    (check,) = check_ops(read_tflite(w.build([x], [y])))
    assert not check.supported and check.reason == msg  # inspect says so too


def _damaged(**change) -> bytes:
    shape, values, sp, _ = BLOCKED
    sp = {**sp, "dim_metadata": list(sp["dim_metadata"])}
    for k, v in change.items():
        if k.startswith("level"):
            sp["dim_metadata"][int(k[5:])] = v
        elif k == "values":
            values = v
        else:
            sp[k] = v
    return _densify_model(shape, values, sp)


@pytest.mark.parametrize(
    "change, words",
    [
        (dict(traversal_order=[0, 2, 1, 3]), "traversal order [0, 2, 1, 3]"),
        (dict(traversal_order=[0, 1, 2]), "block map [0, 1] for 1 block dimensions"),
        (dict(traversal_order=[0, 1, 2, 3, 4]), "traversal order [0, 1, 2, 3, 4] for 2 dimensions"),
        (dict(block_map=[0, 0]), "block map [0, 0]"),
        (dict(level3=("DENSE", 4, None, None)), "does not divide dimension 1 of size 6"),
        (dict(level0=("DENSE", 3, None, None)), "dense size 3 at level 0"),
        (dict(level1=("SPARSE_CSR", 0, [0, 1, 3], [1, 0])), "array_segments at level 1"),
        (dict(level1=("SPARSE_CSR", 0, [0, 2], [1, 0])), "array_segments at level 1"),
        (dict(level1=("SPARSE_CSR", 0, [0, 1, 2], [1, 2])), "array_indices at level 1 outside [0, 2)"),
        (dict(level1=("SPARSE_CSR", 0, [0, 2, 2], [1, 1])), "two values on one element"),
        (dict(values=list(range(11))), "place 12 values, the buffer holds 11"),
        (dict(level2=("SPARSE_CSR", 0, [0, 1, 2], [0, 1])), "block dimension 2 of size 0 (SPARSE_CSR)"),
    ],
)
def test_damaged_sparsity_is_one_line(change, words):
    with pytest.raises(BakeError) as e:
        compile_model("x.tflite", data=_damaged(**change))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("sparse tensor 't1': ") and words in msg, msg
    assert msg.endswith("(a damaged model)")


def test_densify_of_a_computed_tensor_keeps_the_hint():
    w = ModelWriter()
    x = w.tensor([1, 4], "float32")
    y = w.tensor([1, 4], "float32")
    w.op("DENSIFY", [x], [y])
    with pytest.raises(BakeError) as e:
        compile_model("x.tflite", data=w.build([x], [y]))
    assert str(e.value).startswith("unsupported operator DENSIFY (sparse weights: bake densifies a DENSIFY of a")


def test_huge_all_zero_sparse_tensor_refused_before_it_is_made():
    """A few stored bytes can describe gigabytes of zeros: refused before any allocation."""
    sp = dict(
        traversal_order=[0, 1],
        block_map=[],
        index_type="uint8",
        dim_metadata=[("SPARSE_CSR", 0, [0, 1], [0]), ("SPARSE_CSR", 0, [0, 1], [0])],
    )
    w = ModelWriter()
    x = w.tensor([1, 65536], "float32")
    c = w.tensor([65536, 65536], "float32", data=np.ones(1, np.float32), sparsity=sp)
    d = w.tensor([65536, 65536], "float32")
    w.op("DENSIFY", [c], [d])
    y = w.tensor([1, 65536], "float32")
    w.op("FULLY_CONNECTED", [x, d, -1], [y])
    with pytest.raises(BakeError) as e:
        compile_model("x.tflite", data=w.build([x], [y]))
    assert str(e.value) == (
        "sparse tensor 't1' has shape [65536, 65536] (17179869184 bytes dense); upyflow densifies at most 256 MiB"
    )


def _litert(model: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    lite = pytest.importorskip("ai_edge_litert.interpreter")
    it = lite.Interpreter(
        model_content=model, experimental_op_resolver_type=lite.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


@pytest.mark.parametrize("layout", sorted(SPARSITIES))
def test_tflite_densify_kernel_agrees_with_the_writer(layout):
    """The writer's sparse encoding checked by TFLite's own DENSIFY kernel (LiteRT's Python
    interpreter, when installed: `pip install ai-edge-litert`): its output on the sparse
    model is TFLM's on the dense one, byte for byte."""
    sparse = _pruned_fc(np.random.default_rng(11), SPARSITIES[layout])
    dense = _pruned_fc(np.random.default_rng(11), None)
    rng = np.random.default_rng(13)
    for _ in range(4):
        xi = rng.integers(-128, 128, size=(1, 32)).astype(np.int8)
        np.testing.assert_array_equal(_litert(sparse, [xi])[0], run_tflm(dense, [xi])[0])


@pytest.mark.parametrize("case", [BLOCKED, COLUMNS, BOTH_CSR], ids=["blocks", "columns", "csr-csr"])
def test_tflite_densify_kernel_agrees_with_the_hand_worked_tensors(case):
    shape, values, sp, dense = case
    x = (np.arange(1, shape[1] + 1, dtype=np.float32) ** 1.5).reshape(1, -1)
    got = _litert(_densify_model(shape, values, sp), [x])[0]
    np.testing.assert_allclose(got[0], np.array(dense, np.float64) @ x[0], rtol=1e-6)


def test_file_weights_slice_a_densified_layer():
    """--weights file slices big layers to bound the RAM a layer's weights take: a densified
    layer is a constant by then, so it is sliced like any other."""
    from upyflow_tools.bake import WEIGHT_CHUNK

    wf = np.random.default_rng(51).normal(size=(64, 256)).astype(np.float32)
    wf[np.abs(wf) < 1] = 0
    w = ModelWriter()
    x = w.tensor([1, 256], "float32")
    c = w.tensor([64, 256], "float32", data=wf, sparsity=dict(formats=["DENSE", "SPARSE_CSR"], index_type="uint16"))
    d = w.tensor([64, 256], "float32")
    w.op("DENSIFY", [c], [d])
    y = w.tensor([1, 64], "float32")
    w.op("FULLY_CONNECTED", [x, d, -1], [y])
    result = compile_model("x.tflite", data=w.build([x], [y]), weights="file")
    assert wf.nbytes > WEIGHT_CHUNK and result.baked.weight_buffer <= WEIGHT_CHUNK + 1024


def test_tflite_sparse_fc_kernel_agrees_with_tflm_dense():
    """TFLite's own int8 sparse FULLY_CONNECTED kernel (LiteRT, when installed) gives TFLM's
    bytes on the dense model: densifying is what TFLite computes."""
    sparse = _pruned_fc(np.random.default_rng(61), FC_BLOCKS, via_densify=False)
    dense = _pruned_fc(np.random.default_rng(61), None)
    rng = np.random.default_rng(63)
    for _ in range(4):
        xi = rng.integers(-128, 128, size=(1, 32)).astype(np.int8)
        np.testing.assert_array_equal(_litert(sparse, [xi])[0], run_tflm(dense, [xi])[0])
