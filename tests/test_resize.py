"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR: generated single-op models against TFLM on
every CPython tier (int8 byte-identical, float32 within 1e-5 relative)."""

from __future__ import annotations

import numpy as np
import pytest

from harness import assert_bit_exact, bake_model, load_cpython, random_input
from tflite_writer import ModelWriter

# (input h, w, c) -> (output h, w): up, down, mixed and non-integer ratios, 1-pixel edges
SIZES = [((3, 4, 2), (6, 8)), ((5, 7, 3), (8, 3)), ((6, 6, 1), (4, 9)), ((1, 5, 2), (3, 1)), ((4, 3, 5), (4, 3))]
MODES = [(False, False), (True, False), (False, True)]  # (align_corners, half_pixel_centers)
DTYPES = {"int8": (0.05, -3), "float32": (None, None), "int16": (0.001, 0)}


def resize_model(op: str, dtype: str, in_shape, out_hw, align: bool, half: bool) -> bytes:
    w = ModelWriter()
    q = DTYPES[dtype]
    x = w.tensor([1, *in_shape], dtype, *q)
    size = w.tensor([2], "int32", data=np.array(out_hw))
    y = w.tensor([1, *out_hw, in_shape[2]], dtype, *q)
    w.op(op, [x, size], [y], align_corners=align, half_pixel_centers=half)
    return w.build([x], [y])


CASES = [
    (op, dt, s, m)
    for op, dts in (("RESIZE_NEAREST_NEIGHBOR", ("int8", "float32", "int16")), ("RESIZE_BILINEAR", ("int8", "float32")))
    for dt in dts
    for s in range(len(SIZES))
    for m in range(len(MODES))
]


@pytest.mark.parametrize("op,dtype,size,mode", CASES)
def test_resize_matches_tflm(op, dtype, size, mode, tier, tmp_path):
    (in_shape, out_hw), (align, half) = SIZES[size], MODES[mode]
    data = resize_model(op, dtype, in_shape, out_hw, align, half)
    m = load_cpython(*bake_model(data, tmp_path)[:2], tier)
    rng = np.random.default_rng(size * 10 + mode)
    short = {"int8": "i8", "float32": "f32", "int16": "i16"}[dtype]
    for _ in range(3):
        assert_bit_exact(data, m, [random_input(rng, short, (1, *in_shape), -10.0, 10.0)])


MP_CASES = [
    ("RESIZE_BILINEAR", "int8", 1, 2),
    ("RESIZE_BILINEAR", "int8", 2, 2),
    ("RESIZE_BILINEAR", "float32", 0, 1),
    ("RESIZE_NEAREST_NEIGHBOR", "int8", 2, 0),
    ("RESIZE_NEAREST_NEIGHBOR", "int16", 0, 2),
]


def _micropython_run(tmp_path, tier: str, extra_paths=None):
    from harness import run_tflm
    from upyflow_tools.unixport import run_batch

    for k, (op, dtype, size, mode) in enumerate(MP_CASES):
        (in_shape, out_hw), (align, half) = SIZES[size], MODES[mode]
        data = resize_model(op, dtype, in_shape, out_hw, align, half)
        mdir, name, _ = bake_model(data, tmp_path / str(k))
        rng = np.random.default_rng(k)
        short = {"int8": "i8", "float32": "f32", "int16": "i16"}[dtype]
        xs = [random_input(rng, short, (1, *in_shape), -10.0, 10.0) for _ in range(20)]
        outs, _ = run_batch(
            mdir, name, [[x.tobytes()] for x in xs], heapsize="2M", env={"UPYFLOW_TIER": tier}, extra_paths=extra_paths
        )
        for x, got in zip(xs, outs):
            want = run_tflm(data, [x])[0]
            got = np.frombuffer(got[0], want.dtype).reshape(want.shape)
            if dtype == "float32":
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
            else:
                np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mpy_tier", ["pure", "viper", "natmod"], indirect=True)
def test_resize_micropython(mpy_tier, tmp_path):
    _micropython_run(tmp_path, mpy_tier.tier, list(mpy_tier.extra_paths))


@pytest.mark.skipif(
    __import__("upyflow_tools.unixport", fromlist=["x"]).micropython_exe() is None,
    reason="MicroPython unix port not installed",
)
def test_viper_resize_family_loads():
    """The viper tier's resize kernels compile under MicroPython (else dispatch would quietly
    fall back to the pure ones and test_resize_micropython[viper] would not test them)."""
    import subprocess

    from upyflow_tools.unixport import DEVICE_LIB, micropython_exe

    code = (
        "import sys; sys.path.insert(0, %r); from upyflow.kernels_viper import resize as k; "
        "print('LOADED', len(k.KERNELS))" % DEVICE_LIB
    )
    proc = subprocess.run([micropython_exe(), "-c", code], capture_output=True, text=True, timeout=60)
    assert "LOADED 2" in proc.stdout, proc.stdout + proc.stderr
