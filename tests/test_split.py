"""SPLIT, SPLIT_V and DEPTH_TO_SPACE (data movement lowered to strided_copy): generated
single-op models against the TFLM interpreter on every CPython tier, byte for byte."""

from __future__ import annotations

import numpy as np
import pytest

from harness import assert_bit_exact, bake_model, load_cpython, random_input
from tflite_writer import ModelWriter

DTYPES = {
    "int8": ("i8", 0.05, -3),
    "int16": ("i16", 0.001, 0),
    "float32": ("f32", None, None),
    "int32": ("i32", None, None),
}
# (input shape, axis, sizes): even SPLIT when sizes is an int (the number of outputs)
SPLITS = [((1, 6, 4), 1, 3), ((2, 3, 8), -1, 2), ((4, 5), 0, 4), ((1, 2, 3, 6), 3, 3), ((6,), 0, 1)]
SPLIT_VS = [((1, 7, 4), 1, [2, 4, 1]), ((2, 3, 9), -1, [3, -1, 2]), ((5, 4), 0, [1, 4]), ((1, 2, 3, 6), 2, [1, 2])]


def _io(w, dtype, shape):
    _, scale, zp = DTYPES[dtype]
    return w.tensor(list(shape), dtype, scale, zp) if scale else w.tensor(list(shape), dtype)


def split_model(dtype, shape, axis, sizes) -> bytes:
    w = ModelWriter()
    x = _io(w, dtype, shape)
    a = axis % len(shape)
    if isinstance(sizes, int):
        parts = [shape[a] // sizes] * sizes
    else:
        parts = [shape[a] - (sum(sizes) + 1) if s == -1 else s for s in sizes]
    outs = [_io(w, dtype, shape[:a] + (n,) + shape[a + 1 :]) for n in parts]
    axis_t = w.tensor([], "int32", data=np.array(axis, np.int32))
    if isinstance(sizes, int):
        w.op("SPLIT", [axis_t, x], outs, num_splits=sizes)
    else:
        sz = w.tensor([len(sizes)], "int32", data=np.array(sizes, np.int32))
        w.op("SPLIT_V", [x, sz, axis_t], outs, num_splits=len(sizes))
    return w.build([x], outs)


def d2s_model(dtype, shape, block) -> bytes:
    w = ModelWriter()
    x = _io(w, dtype, shape)
    _, h, wd, c = shape
    y = _io(w, dtype, (1, h * block, wd * block, c // (block * block)))
    w.op("DEPTH_TO_SPACE", [x], [y], block_size=block)
    return w.build([x], [y])


def _run(data, tmp_path, tier, dtype, shape):
    m = load_cpython(*bake_model(data, tmp_path)[:2], tier)
    rng = np.random.default_rng(len(data))
    for _ in range(2):
        assert_bit_exact(data, m, [random_input(rng, DTYPES[dtype][0], shape)])


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("case", SPLITS + SPLIT_VS, ids=lambda c: "%s-ax%d-%s" % c)
def test_split_matches_tflm(case, dtype, tier, tmp_path):
    shape, axis, sizes = case
    _run(split_model(dtype, shape, axis, sizes), tmp_path, tier, dtype, shape)


@pytest.mark.parametrize("dtype", ["int8", "float32"])  # TFLM has no other
@pytest.mark.parametrize("shape,block", [((1, 2, 3, 8), 2), ((1, 3, 2, 9), 3), ((1, 1, 1, 4), 1)])
def test_depth_to_space_matches_tflm(shape, block, dtype, tier, tmp_path):
    _run(d2s_model(dtype, shape, block), tmp_path, tier, dtype, shape)


def test_depth_to_space_int16_is_refused_as_tflm_does(tmp_path):
    from upyflow_tools import BakeError

    with pytest.raises(BakeError, match="DEPTH_TO_SPACE with tensor types i16/i16"):
        bake_model(d2s_model("int16", (1, 2, 2, 4), 2), tmp_path)
