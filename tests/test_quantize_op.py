"""QUANTIZE (float32 -> int8/int16, requantization between int8/int16/int32) and DEQUANTIZE:
byte-identical with TFLM on every CPython kernel tier (`tier`).

Generated single-op models, parameters fixed by a seed and the case id; inputs are random ones,
the extremes, the zero point and (from float32) values beyond the range and on exact half-way
points. Nothing here hard-codes an expected output. (Post-training quantization of whole
models: test_quantize.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import NP, TT, check, check_isa, make_inputs, seeded_rng
from op_models import float_inputs, unary_model
from tflite_writer import ModelWriter

SEED = 0x5EED  # the int8/int16/float32 cases
SEED32 = 0xAC71  # the int32 cases


def case_rng(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED, case_id)


def case_rng32(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED32, case_id)


# --- QUANTIZE (requantize) and DEQUANTIZE: int8, int16, float32 -----------------------------
QUANT_CASES = [  # (in dtype, in (scale, zp), out dtype, out (scale, zp))
    ("f32", None, "i8", (0.05, 0)),
    ("f32", None, "i8", (0.0078125, -128)),
    ("f32", None, "i8", (0.1, 17)),
    ("f32", None, "i8", (0.013, -99)),
    ("f32", None, "i8", (1.0, 127)),
    ("f32", None, "i16", (0.001, 0)),
    ("f32", None, "i16", (1 / 32768, 0)),
    ("f32", None, "i16", (0.01, 0)),
    ("i8", (0.05, 0), "i8", (0.05, 10)),
    ("i8", (0.05, 3), "i8", (0.1, -4)),
    ("i8", (0.1, -128), "i8", (0.03, 0)),
    ("i8", (0.02, 127), "i8", (0.5, -128)),
    ("i8", (0.037, -5), "i8", (0.011, 21)),
    ("i8", (0.1, 5), "i8", (0.1, 5)),
    ("i8", (0.004, 0), "i8", (0.3, 0)),
    ("i8", (0.05, -3), "i16", (0.001, 0)),
    ("i16", (0.001, 0), "i8", (0.05, 7)),
    ("i16", (0.0005, 0), "i16", (0.002, 0)),
]
DEQUANT_CASES = [
    ("i8", (0.05, 0)),
    ("i8", (0.0078125, -128)),
    ("i8", (0.37, 127)),
    ("i8", (0.013, -9)),
    ("i16", (0.001, 0)),
    ("i16", (1 / 32768, 0)),
    ("i16", (0.25, 0)),
]


def _q_id(c):
    ind, iq, outd, oq = c
    return "%s%s-to-%s-s%g-zp%d" % (ind, "" if iq is None else "-s%g-zp%d" % iq, outd, *oq)


def quantize_case(case):
    """(model bytes, input sets) of one case."""
    ind, iq, outd, oq = case
    rng = case_rng("quantize" + _q_id(case))
    shape = [2, 3, 5]
    w = ModelWriter()
    x = w.tensor(shape, TT[ind], *(iq or (None, None)))
    y = w.tensor(shape, TT[outd], *oq)
    w.op("QUANTIZE", [x], [y])
    if ind == "f32":
        # real range a bit beyond the representable one, plus exact half-way points
        span = oq[0] * np.iinfo(NP[outd]).max * 1.2
        xs = make_inputs(rng, "f32", shape, f_range=span, saturating=True)
        halves = (rng.integers(-130, 130, size=shape) + 0.5) * oq[0]
        xs.append(halves.astype(np.float32))
    else:
        xs = make_inputs(rng, ind, shape, iq[1])
    return w.build([x], [y]), [[x] for x in xs]


@pytest.mark.parametrize("case", QUANT_CASES, ids=_q_id)
def test_quantize(case, tier, tmp_path):
    model, sets = quantize_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", QUANT_CASES[::3], ids=_q_id)
def test_quantize_isa(case, isa_arch):
    """Every 3rd case on the boards' ISAs."""
    check_isa(*quantize_case(case), isa_arch)


def dequantize_case(case):
    """(model bytes, input sets) of one case."""
    ind, q = case
    rng = case_rng("dequantize%s%s" % case)
    shape = [3, 7]
    w = ModelWriter()
    x = w.tensor(shape, TT[ind], *q)
    y = w.tensor(shape, "float32")
    w.op("DEQUANTIZE", [x], [y])
    return w.build([x], [y]), [[x] for x in make_inputs(rng, ind, shape, q[1])]


@pytest.mark.parametrize("case", DEQUANT_CASES, ids=lambda c: "%s-s%g-zp%d" % (c[0], *c[1]))
def test_dequantize(case, tier, tmp_path):
    model, sets = dequantize_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", DEQUANT_CASES[::2], ids=lambda c: "%s-s%g-zp%d" % (c[0], *c[1]))
def test_dequantize_isa(case, isa_arch):
    """Every 2nd case on the boards' ISAs."""
    check_isa(*dequantize_case(case), isa_arch)


# --- QUANTIZE with int32 -------------------------------------------------------------------
QUANT32 = [
    ("i32", 1.49e-7, "i16", 0.00092),
    ("i16", 0.00049, "i32", 1.49e-7),
    ("i32", 2e-6, "i8", 0.04),
    ("i8", 0.05, "i32", 1e-4),
    ("i16", 0.001, "i8", 0.03),
    ("i16", 0.0003, "i16", 0.0007),
    ("f32", None, "i16", 0.0005),
]


def quantize32_case(case):
    """(model bytes, input sets) of one case."""
    ind, sin, outd, sout = case
    rng = case_rng32("q32-%s-%s-%g" % (ind, outd, sout))
    shape = [2, 160, 2]
    model = unary_model("QUANTIZE", ind, shape, None if sin is None else (sin, 0), (sout, 0), out_dt=outd)
    if ind == "i32":
        xs = [
            rng.integers(-(2**31), 2**31, size=shape).astype(np.int32),
            (rng.normal(size=shape) * 2**26).astype(np.int32),
        ]
    elif ind == "f32":
        xs = float_inputs(rng, shape, 20.0)
    else:
        info = np.iinfo(NP[ind])
        xs = [
            rng.integers(info.min, info.max + 1, size=shape).astype(NP[ind]),
            np.full(shape, info.min, NP[ind]),
            np.full(shape, info.max, NP[ind]),
        ]
    return model, [[x] for x in xs]


@pytest.mark.parametrize("case", QUANT32, ids=lambda c: "%s-to-%s-%g" % (c[0], c[2], c[3]))
def test_quantize_int32(case, tier, tmp_path):
    model, sets = quantize32_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", QUANT32[::2], ids=lambda c: "%s-to-%s-%g" % (c[0], c[2], c[3]))
def test_quantize_int32_isa(case, isa_arch):
    """Every 2nd case on the boards' ISAs."""
    check_isa(*quantize32_case(case), isa_arch)
