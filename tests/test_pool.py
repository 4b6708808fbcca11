"""AVERAGE_POOL_2D and MAX_POOL_2D (int8, float32): byte-identical with TFLM (float32 within
rtol 1e-5) on every CPython kernel tier (`tier`).

Generated single-op models, parameters fixed by one seed and the case id, windows over strides,
SAME/VALID padding and fused activations; inputs are random ones, the extremes, and (int8) a
pattern whose window sums land on the average's rounding ties. An int8 batch also runs on viper and
the natmod (`mpy_tier`). Nothing here hard-codes an expected output.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from harness import ACTS, check, check_isa, make_inputs, run_micropython_cases, seeded_rng
from op_models import bake_batch, batch_rng
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
    w.op(
        kind + "_POOL_2D",
        [x],
        [y],
        padding=padding,
        stride_h=s_h,
        stride_w=s_w,
        filter_height=f_h,
        filter_width=f_w,
        fused_activation_function=act,
    )
    return w.build([x], [y]), xshape


POOL_CASES = []
for _k, (_kind, _f, _s, _pad) in enumerate(
    itertools.product(("AVERAGE", "MAX"), POOL_FILTERS, POOL_STRIDES, ("SAME", "VALID"))
):
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
        xs.append(
            np.tile(np.array([1, 2, -1, -2, 3, -3], np.int8), int(np.prod(xshape)) // 6 + 1)[
                : int(np.prod(xshape))
            ].reshape(xshape)
        )
    return model, [[x] for x in xs]


@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_id)
def test_pool2d(case, tier, tmp_path):
    model, sets = pool_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", POOL_CASES[::32], ids=_pool_id)
def test_pool2d_isa(case, isa_arch):
    """Every 32nd case on the boards' ISAs."""
    check_isa(*pool_case(case), isa_arch)


# --- MicroPython: an int8 batch on viper (x64; 32-bit with MICROPYTHON32) and the natmod ------
BATCH_SIZES = [(7, 7), (8, 8), (9, 6), (6, 11), (5, 9), (10, 10)]


def batch_pool_model(case_id, kind, hw, c, f, s, pad, act, zp):
    rng = batch_rng(case_id)
    (in_h, in_w), (f_h, f_w), (s_h, s_w) = hw, f, s

    def size(i, k, ss):
        return -(-i // ss) if pad == "SAME" else (i - k) // ss + 1

    sc = float(rng.uniform(0.01, 0.05))  # TFLM's int8 pools keep the input quantization
    w = ModelWriter()
    x = w.tensor([1, in_h, in_w, c], "int8", sc, zp)
    y = w.tensor([1, size(in_h, f_h, s_h), size(in_w, f_w, s_w), c], "int8", sc, zp)
    w.op(
        kind + "_POOL_2D",
        [x],
        [y],
        padding=pad,
        stride_h=s_h,
        stride_w=s_w,
        filter_height=f_h,
        filter_width=f_w,
        fused_activation_function=act,
    )
    return w.build([x], [y]), [1, in_h, in_w, c], zp, rng


def batch_pool_cases():
    """id -> (model bytes, input shape, input zero point, rng): windows at borders, strides,
    padding, activations, zero points."""
    cases = {}
    k = 0
    for kind in ("AVERAGE", "MAX"):
        for f in [(1, 1), (2, 2), (3, 3), (2, 3), (3, 1), (4, 4), (5, 5)]:
            for s in [(1, 1), (2, 2), (1, 2), (3, 2)]:
                for pad in ("SAME", "VALID"):
                    k += 1
                    hw, c, act, zp = (
                        BATCH_SIZES[k % len(BATCH_SIZES)],
                        1 + k % 4,
                        ACTS[(k // 2) % 4],
                        (-128, -20, 0, 35, 127)[k % 5],
                    )
                    if pad == "VALID":
                        hw = (max(hw[0], f[0]), max(hw[1], f[1]))
                    cid = "%s-%dx%dx%d-f%dx%d-s%d,%d-%s-%s-zp%d" % (kind.lower(), *hw, c, *f, *s, pad, act, zp)
                    cases[cid] = batch_pool_model(cid, kind, hw, c, f, s, pad, act, zp)
    return cases


@pytest.fixture(scope="module")
def int8_batch(tmp_path_factory):
    return bake_batch(batch_pool_cases(), tmp_path_factory.mktemp("pool_int8_batch"), "vp")


@pytest.mark.parametrize("mpy_tier", ["viper", "viper32", "natmod"], indirect=True)
def test_int8_micropython(int8_batch, mpy_tier):
    """AVERAGE/MAX_POOL_2D int8 models on viper and the natmod (inputs include sums on the
    average's rounding ties): byte-identical with TFLM."""
    run_micropython_cases(mpy_tier, *int8_batch)
