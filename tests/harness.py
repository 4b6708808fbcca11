"""Shared test helpers: bake models, run them on upyflow (CPython or MicroPython) and on TFLM."""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

import upyflow
from upyflow_tools import runner
from upyflow_tools.bake import bake
from upyflow_tools.tflm import interpreter

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the checkout; UPYFLOW_SHARED points elsewhere (e.g. from a git worktree)
SHARED = Path(os.environ.get("UPYFLOW_SHARED") or ROOT.parent / "shared")
NP = {"i8": np.int8, "i16": np.int16, "i32": np.int32, "f32": np.float32, "u8": np.uint8}
_counter = itertools.count()


def shared(rel: str) -> Path:
    """A file from ../shared; the test skips when the shared data is not beside the checkout."""
    path = SHARED / rel
    if not path.exists():
        pytest.skip("../shared/%s is not present (reference data lives beside the repo in CI)" % rel)
    return path


def bake_model(model: bytes | Path, outdir: Path, name: str | None = None, mpy: bool = False):
    """Bake bytes or a file into outdir; returns (module_dir, module name, BakeResult)."""
    name = name or "m%d" % next(_counter)
    if isinstance(model, Path):
        result, _ = bake(str(model), str(outdir), name=name, mpy=mpy)
    else:
        result, _ = bake("test.tflite", str(outdir), name=name, mpy=mpy, data=model)
    return str(outdir), name, result


def load_cpython(module_dir: str, name: str, tier: str | None = None) -> upyflow.Model:
    """The baked module as a Model; `tier` forces a kernel tier ('native', 'viper', 'pure')."""
    return runner.model_of(runner.load_module(os.path.join(module_dir, name + ".py")), tier)


def run_upyflow(model: upyflow.Model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return runner.invoke(model, inputs)


def run_tflm(model: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    interp = interpreter(model)
    for i, x in enumerate(inputs):
        interp.set_input(x, i)
    interp.invoke()
    outs, i = [], 0
    while True:
        try:
            interp.get_output_details(i)
        except Exception:
            return outs
        outs.append(np.array(interp.get_output(i)))
        i += 1


def random_input(rng: np.random.Generator, dtype: str, shape, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    if dtype == "f32":
        return rng.uniform(lo, hi, size=shape).astype(np.float32)
    info = np.iinfo(NP[dtype])
    return rng.integers(info.min, info.max + 1, size=shape, dtype=NP[dtype])


def assert_bit_exact(model_bytes: bytes, module: upyflow.Model, inputs: list[np.ndarray]) -> None:
    want = run_tflm(model_bytes, inputs)
    got = run_upyflow(module, inputs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == tuple(w.shape)
        if w.dtype == np.float32:
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(g, w)
