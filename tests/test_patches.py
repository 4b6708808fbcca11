"""Patch-based execution (patches.py): layers run in bands of rows stay byte-identical to
TFLite Micro, on every tier, for any band height, and the bake's choice cuts the arena."""

from __future__ import annotations

import numpy as np
import pytest

import upyflow
from harness import (
    assert_bit_exact,
    bake_model,
    bmp_input,
    load_cpython,
    needs_micropython,
    random_input,
    run_tflm,
    run_upyflow,
    shared,
)
from tflite_writer import ModelWriter, add_quant_weights
from upyflow_tools.bake import bake, compile_model
from upyflow_tools.patches import Stage
from upyflow_tools.runner import load_module
from upyflow_tools.unixport import run_batch

TIERS = ["pure", "native"]


def _out_size(padding: str, n: int, k: int, s: int, d: int = 1) -> int:
    # TFLite's output size (independent of the code under test)
    eff = (k - 1) * d + 1
    return -(-n // s) if padding == "SAME" else -(-(n - eff + 1) // s)


def random_chain(seed: int, dtype: str = "int8") -> tuple[bytes, int]:
    """A chain of 3-5 row-local layers (conv, depthwise, pools) with random geometry;
    returns the model and its number of layers."""
    rng = np.random.default_rng(seed)
    w = ModelWriter()
    h, wd, c = int(rng.integers(9, 22)), int(rng.integers(4, 8)), int(rng.integers(1, 4))
    q = dtype == "int8"

    def act_tensor(shape):
        if q:
            return w.tensor(shape, "int8", float(rng.uniform(0.02, 0.1)), int(rng.integers(-20, 20)))
        return w.tensor(shape, "float32")

    x = first = act_tensor([1, h, wd, c])
    layers = int(rng.integers(3, 6))
    for _ in range(layers):
        kind = rng.choice(
            ["CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D"], p=[0.35, 0.35, 0.15, 0.15]
        )
        padding = str(rng.choice(["SAME", "VALID"]))
        s = int(rng.choice([1, 2]))
        k = int(rng.choice([1, 2, 3, 5])) if kind.endswith("POOL_2D") else int(rng.choice([1, 3, 5]))
        d = int(rng.choice([1, 2])) if s == 1 and kind != "MAX_POOL_2D" and kind != "AVERAGE_POOL_2D" else 1
        if padding == "VALID" and (h - (k - 1) * d < 1 or wd - (k - 1) * d < 1):
            padding = "SAME"
        oh, ow = _out_size(padding, h, k, s, d), _out_size(padding, wd, k, s, d)
        in_scale = w._tensors[x]["scale"][0] if q else 1.0
        if kind == "CONV_2D":
            oc = int(rng.integers(1, 5))
            if q:
                wi, bi, *_ = add_quant_weights(w, rng, [oc, k, k, c], 0, in_scale)
            else:
                wi = w.tensor([oc, k, k, c], "float32", data=rng.normal(size=(oc, k, k, c)))
                bi = w.tensor([oc], "float32", data=rng.normal(size=oc))
            y = act_tensor([1, oh, ow, oc])
            w.op(
                kind,
                [x, wi, bi],
                [y],
                padding=padding,
                stride_h=s,
                stride_w=s,
                dilation_h_factor=d,
                dilation_w_factor=d,
                fused_activation_function=str(rng.choice(["NONE", "RELU", "RELU6"])),
            )
        elif kind == "DEPTHWISE_CONV_2D":
            mult = int(rng.choice([1, 2]))
            oc = c * mult
            if q:
                wi, bi, *_ = add_quant_weights(w, rng, [1, k, k, oc], 3, in_scale)
            else:
                wi = w.tensor([1, k, k, oc], "float32", data=rng.normal(size=(1, k, k, oc)))
                bi = w.tensor([oc], "float32", data=rng.normal(size=oc))
            y = act_tensor([1, oh, ow, oc])
            w.op(
                kind,
                [x, wi, bi],
                [y],
                padding=padding,
                stride_h=s,
                stride_w=s,
                depth_multiplier=mult,
                dilation_h_factor=d,
                dilation_w_factor=d,
            )
        else:
            oc = c
            if q:  # TFLite pools keep the input's quantization
                t = w._tensors[x]
                y = w.tensor([1, oh, ow, oc], "int8", t["scale"][0], t["zero_point"][0])
            else:
                y = act_tensor([1, oh, ow, oc])
            w.op(kind, [x], [y], padding=padding, stride_h=s, stride_w=s, filter_height=k, filter_width=k)
        x, h, wd, c = y, oh, ow, oc
    return w.build([first], [x]), layers


def _bake(model: bytes, tmp_path, stages, name: str):
    bake("chain.tflite", str(tmp_path), name=name, data=model, patches=stages)
    return str(tmp_path), name


@pytest.mark.parametrize("seed", range(24))
@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_any_band_of_any_chain_is_bit_exact(seed, dtype, tmp_path):
    model, layers = random_chain(seed, dtype)
    rng = np.random.default_rng(100 + seed)
    graph_out = compile_model("chain.tflite", data=model, patches="off")
    height = graph_out.graph.tensors[graph_out.graph.outputs[0]].shape[1]
    x = random_input(rng, "i8" if dtype == "int8" else "f32", graph_out.graph.tensors[graph_out.graph.inputs[0]].shape)
    mdir, name = _bake(model, tmp_path, "off", "plain%d" % seed)
    plain = {tier: run_upyflow(load_cpython(mdir, name, tier), [x])[0] for tier in TIERS}
    for band in sorted({1, 2, 3, max(1, height - 1)}):
        start = int(rng.integers(0, layers - 1))
        stage = Stage(start, layers, band)
        mdir, name = _bake(model, tmp_path, [stage], "b%d_%d" % (seed, band))
        for tier in TIERS:
            if dtype == "int8" or tier == "native":
                assert_bit_exact(model, load_cpython(mdir, name, tier), [x])
            # float32 on the pure tier accumulates in double: within 1e-5 of TFLM only on
            # well-conditioned data, so here it is held to its own unbanded output, exactly
            got = run_upyflow(load_cpython(mdir, name, tier), [x])[0]
            assert got.tobytes() == plain[tier].tobytes()


def test_the_bake_cuts_person_detects_arena_below_tflms(tmp_path):
    path = shared("models/person_detect.tflite")
    plain = compile_model(str(path), patches="off")
    banded = compile_model(str(path))
    assert plain.arena_size == 55296  # TFLM's head arena for this model
    # smaller by more than the extra calls cost the Python tiers (patches.CALL_BYTES each)
    from upyflow_tools.patches import CALL_BYTES

    assert banded.stages
    assert banded.arena_size + CALL_BYTES * len(banded.calls) < plain.arena_size + CALL_BYTES * len(plain.calls)
    assert banded.arena_size < 0.75 * plain.arena_size
    # counted at the native tier's cost per call, the search goes further (two stages)
    import upyflow_tools.patches as patches

    old, patches.CALL_BYTES = patches.CALL_BYTES, 128
    try:
        assert compile_model(str(path)).arena_size < plain.arena_size // 2 + 1000
    finally:
        patches.CALL_BYTES = old
    # the planned arena holds every buffer: no two tensors live at once share a byte
    for a in banded.buffers:
        for b in banded.buffers:
            if a is not b and a.first <= b.last and b.first <= a.last:
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
    assert max(b.offset + b.size for b in banded.buffers) <= banded.arena_size


def test_the_planner_fits_a_band_stage_beside_the_layer_before_it():
    # person_detect's pointwise conv and the stride-2 depthwise after it in bands of 6 output
    # rows: at once live are the 48x48x8 input of the stage (18432 B), the pointwise band
    # (13 rows of 48x16: 9984 B) and the 24x24x16 output (9216 B); before it, the depthwise
    # layer's 48x48x8 input and output (36864 B). Size-first placement with ties by first use
    # leaves the output no room beside the band (46080 B); the arena is the larger sum.
    path = shared("models/person_detect.tflite")
    banded = compile_model(str(path), patches=[Stage(2, 4, 6)])
    assert banded.arena_size == max(18432 + 13 * 48 * 16 + 9216, 2 * 18432)


def test_person_detect_banded_is_bit_exact_on_images(tier, tmp_path):
    path = shared("models/person_detect.tflite")
    mdir, name, result = bake_model(path, tmp_path)
    assert result.stages
    m = load_cpython(mdir, name, tier)
    for img in ("person.bmp", "no_person.bmp"):
        assert_bit_exact(path.read_bytes(), m, [bmp_input(img)])


@needs_micropython
def test_banded_chain_under_micropython(tmp_path):
    model, layers = random_chain(7)
    mdir, name = _bake(model, tmp_path, [Stage(0, layers, 2)], "mp_chain")
    x = random_input(np.random.default_rng(1), "i8", compile_model("c.tflite", data=model).graph.tensors[0].shape)
    want = run_tflm(model, [x])[0].tobytes()
    for tier in ("viper", "pure"):
        outs, _ = run_batch(mdir, name, [[x.tobytes()]], env={"UPYFLOW_TIER": tier})
        assert outs[0][0] == want


def test_weights_file_mode_reads_a_banded_layer_from_one_copy(tmp_path):
    model, layers = random_chain(3)
    plain = compile_model("c.tflite", data=model, weights="file", patches="off")
    banded = compile_model("c.tflite", data=model, weights="file", patches=[Stage(0, layers, 1)])
    assert len(banded.calls) > len(plain.calls)
    # the band loop is one record reading one segment: every layer's constants once
    assert len(banded.baked.calls) == 1 and banded.baked.segments == [(0, len(banded.baked.weights))]
    g = plain.graph
    const = sum(g.tensors[t].nbytes for t in {t for c in plain.calls for t in c.tensors if g.tensors[t].is_const})
    assert const <= len(banded.baked.weights) < const + 8 * layers  # no duplicates, 8-byte alignment
    bake("c.tflite", str(tmp_path), name="fchain", data=model, weights="file", patches=[Stage(0, layers, 1)])
    x = random_input(np.random.default_rng(2), "i8", plain.graph.tensors[plain.graph.inputs[0]].shape)
    for tier in TIERS:
        assert_bit_exact(model, load_cpython(str(tmp_path), "fchain", tier), [x])


def _band_cases(ops: bytes, layers: int) -> tuple[dict, dict]:
    """Damaged copies of a band-loop record's OPS (upyflow/model.py BAND): (cases every tier
    refuses, cases only the walker can see), label -> bytes."""
    import struct

    assert ops[0] == 0xFF and ops[1] == layers  # BAND, then its layer count, band rows, height

    def poke(at, fmt, value):
        o = bytearray(ops)
        struct.pack_into(fmt, o, at, value)
        return bytes(o)

    geo = 5  # layer 0's geometry: x, out, in_h, out_h, k_h, s_h, d_h, pad_h, row bytes of x, of out
    cases = {
        "no layers": poke(1, "<B", 0),
        "too many layers": poke(1, "<B", 9),
        "bands of 0 rows": poke(2, "<B", 0),
        "x past the tensors": poke(geo, "<B", 40),
        "x is out": poke(geo, "<B", ops[geo + 1]),
        "in_h past the params": poke(geo + 2, "<B", 60),
        "0 bytes per row": poke(geo + 8, "<I", 0),
        "rows beyond the input": poke(geo + 8, "<I", 1 << 20),
        "rows beyond the output": poke(3, "<H", 60000),
        "cut short": ops[: geo + 20],
    }
    native = {"out on a read tensor": poke(geo + 1, "<B", 1)}  # the weights: the walker knows
    return cases, native


def test_malformed_band_loop_raises_at_load(tmp_path):
    """A damaged band-loop record (upyflow/model.py BAND) fails at load with a ValueError: in
    the C walker's check, naming the band loop, and in the Python tiers' expansion; never a
    crash or a write outside the arena."""
    model, layers = random_chain(5)
    mdir, name = _bake(model, tmp_path, [Stage(0, layers, 2)], "badband")
    mod = load_module(str(tmp_path / (name + ".py")))
    cases, native = _band_cases(mod.OPS, layers)
    tiers = ["pure"] + (["native"] if "native" in upyflow.tiers() else [])
    for label, bad in list(cases.items()) + list(native.items()):
        mod.OPS = bad
        for tier in tiers if label in cases else tiers[1:]:
            with pytest.raises(ValueError) as e:
                upyflow.Model(mod, tier)
            if tier == "native":
                assert "band loop (op record at byte 0)" in str(e.value) or "op record at byte 0" in str(e.value), (
                    label,
                    str(e.value),
                )


_BAND_NATMOD = """
import sys
sys.path.insert(0, %(lib)r)
sys.path.insert(0, %(natmod)r)
sys.path.insert(0, %(mod)r)
import upyflow
import upyflow_native as u
import badband as mod
good = mod.OPS
m = upyflow.Model(mod, 'native')
print('GOOD', m.tier)
kmap = bytes(u.kernel_index(n) & 0xFF for n in mod.OP_KERNELS)
arena = bytearray(mod.ARENA_SIZE)
for label, bad in %(cases)r:
    mod.OPS = bad
    try:   # at load: the walker's check of every record
        upyflow.Model(mod, 'native')
        print('NOERROR load', label)
    except ValueError as e:
        print('VALUEERROR load', label, e)
    try:   # and run() on its own, which checks each record before its kernel
        u.run(u.program(mod.TENSORS, bad, mod.OP_FORMATS, kmap, arena, mod.WEIGHTS, None), 0, -1)
        print('NOERROR run', label)
    except ValueError as e:
        print('VALUEERROR run', label, e)
mod.OPS = good
upyflow.Model(mod, 'native').invoke()
print('DONE')
"""


@needs_micropython
def test_malformed_band_loop_raises_on_natmod(tmp_path, natmod_dir):
    """The same damaged band loops reach the MicroPython natmod's walker, at load and through
    run(): a ValueError naming the record each time, no crash, and the good module still runs."""
    import subprocess

    from upyflow_tools.unixport import DEVICE_LIB, micropython_exe

    model, layers = random_chain(5)
    _bake(model, tmp_path, [Stage(0, layers, 2)], "badband")
    mod = load_module(str(tmp_path / "badband.py"))
    cases, native = _band_cases(mod.OPS, layers)
    every = list(cases.items()) + list(native.items())
    script = tmp_path / "bad.py"
    script.write_text(_BAND_NATMOD % {"lib": DEVICE_LIB, "natmod": natmod_dir, "mod": str(tmp_path), "cases": every})
    proc = subprocess.run(
        [micropython_exe(), "-X", "heapsize=2M", str(script)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "GOOD native" and lines[-1] == "DONE", proc.stdout + proc.stderr
    assert not [ln for ln in lines if ln.startswith("NOERROR")], proc.stdout
    errors = [ln for ln in lines if ln.startswith("VALUEERROR")]
    assert len(errors) == 2 * len(every), proc.stdout
    assert all("op record at byte 0" in ln for ln in errors), proc.stdout
