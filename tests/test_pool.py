"""AVERAGE_POOL_2D and MAX_POOL_2D (int8, float32): byte-identical with TFLM (float32 within
rtol 1e-5) on every CPython kernel tier (`tier`).

Generated single-op models, parameters fixed by one seed and the case id, windows over strides,
SAME/VALID padding and fused activations; inputs are random ones, the extremes, and (int8) a
pattern whose window sums land on the average's rounding ties. The viper and natmod runs of the
int8 pools: test_viper.py's test_kernels. Nothing here hard-codes an expected output.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from harness import ACTS, check, check_isa, make_inputs, seeded_rng
from tflite_writer import ModelWriter

SEED = 0x5EED


def case_rng(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED, case_id)


# --- generated cases ----------------------------------------------------------------------
POOL_FILTERS = [(1, 1), (2, 2), (3, 3), (2, 3), (3, 1), (4, 4)]
POOL_STRIDES = [(1, 1), (2, 2), (1, 2), (3, 2)]
SIZES = [(7, 7), (8, 8), (9, 6), (6, 11), (12, 9), (10, 10), (11, 12)]


def pool_model(rng, dtype, kind, in_hw, c, filt, stride, padding, act, zp):
    w = ModelWriter()
    (in_h, in_w), (f_h, f_w), (s_h, s_w) = in_hw, filt, stride

    def out_size(i, k, s):
        return -(-i // s) if padding == "SAME" else (i - k) // s + 1
    xshape = [1, in_h, in_w, c]
    yshape = [1, out_size(in_h, f_h, s_h), out_size(in_w, f_w, s_w), c]
    if dtype == "f32":
        x, y = w.tensor(xshape, "float32"), w.tensor(yshape, "float32")
    else:
        # TFLM's int8 pools need identical input and output quantization; scale so that
        # 6.0 and +-1.0 fall inside the int8 range for the fused activations
        s = float(rng.uniform(0.01, 0.05))
        x, y = w.tensor(xshape, "int8", s, zp), w.tensor(yshape, "int8", s, zp)
    w.op(kind + "_POOL_2D", [x], [y], padding=padding, stride_h=s_h, stride_w=s_w, filter_height=f_h,
         filter_width=f_w, fused_activation_function=act)
    return w.build([x], [y]), xshape


POOL_CASES = []
for _k, (_kind, _f, _s, _pad) in enumerate(itertools.product(("AVERAGE", "MAX"), POOL_FILTERS, POOL_STRIDES,
                                                             ("SAME", "VALID"))):
    _size = SIZES[_k % len(SIZES)]
    _act = ACTS[(_k // 2) % 4]
    _zp = (-128, -20, 0, 35, 127)[_k % 5]
    POOL_CASES.append(("i8", _kind, _size, 1 + _k % 4, _f, _s, _pad, _act, _zp))
    if _k % 3 == 0:
        POOL_CASES.append(("f32", _kind, _size, 1 + _k % 4, _f, _s, _pad, ACTS[_k % 4], 0))


def _pool_id(c):
    dt, kind, size, ch, f, s, pad, act, zp = c
    return "%s-%s-%dx%dx%d-f%dx%d-s%d,%d-%s-%s-zp%d" % (dt, kind, *size, ch, *f, *s, pad, act, zp)


def pool_case(case):
    """(model bytes, input sets) of one case."""
    dt, kind, size, ch, f, s, pad, act, zp = case
    rng = case_rng("pool" + _pool_id(case))
    model, xshape = pool_model(rng, dt, kind, size, ch, f, s, pad, act, zp)
    xs = make_inputs(rng, dt, xshape, zp)
    if dt == "i8":  # sums landing exactly on .5 after division exercise the rounding
        xs.append(np.tile(np.array([1, 2, -1, -2, 3, -3], np.int8), int(np.prod(xshape)) // 6 + 1)
                  [:int(np.prod(xshape))].reshape(xshape))
    return model, [[x] for x in xs]


@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_id)
def test_pool2d(case, tier, tmp_path):
    model, sets = pool_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", POOL_CASES[::32], ids=_pool_id)
def test_pool2d_isa(case, isa_arch):
    """Every 32nd case on the boards' ISAs."""
    check_isa(*pool_case(case), isa_arch)
