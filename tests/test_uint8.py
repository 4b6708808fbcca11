"""uint8 model inputs/outputs: QUANTIZE uint8 <-> int8 (one byte table) and DEQUANTIZE
uint8 -> float32, against TFLM on every tier for every byte value."""

from __future__ import annotations

import numpy as np
import pytest

from harness import assert_bit_exact, bake_model, load_cpython
from tflite_writer import ModelWriter

# (input dtype, scale, zero point) -> (output dtype, scale, zero point)
CASES = {
    "u8_to_i8_shift": (("uint8", 0.02, 128), ("int8", 0.02, 0)),  # the converter's usual pair
    "u8_to_i8_rescale": (("uint8", 0.013, 97), ("int8", 0.021, -5)),
    "i8_to_u8_shift": (("int8", 1 / 256, -128), ("uint8", 1 / 256, 0)),
    "i8_to_u8_rescale": (("int8", 0.05, 3), ("uint8", 0.031, 140)),
    "u8_dequantize": (("uint8", 0.017, 133), ("float32", None, None)),
}


def model(case: str) -> bytes:
    (a, sa, za), (b, sb, zb) = CASES[case]
    w = ModelWriter()
    x = w.tensor([1, 16, 16], a, sa, za)
    y = w.tensor([1, 16, 16], b, sb, zb)
    w.op("DEQUANTIZE" if b == "float32" else "QUANTIZE", [x], [y])
    return w.build([x], [y])


@pytest.mark.parametrize("case", list(CASES))
def test_every_byte_matches_tflm(case, tier, tmp_path):
    data = model(case)
    m = load_cpython(*bake_model(data, tmp_path)[:2], tier)
    every = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    if CASES[case][0][0] == "int8":
        every = every.view(np.int8)
    assert_bit_exact(data, m, [every])
    assert_bit_exact(data, m, [every[:, ::-1].copy()])
