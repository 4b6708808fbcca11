"""The package as a user installs it: `python -m build` gives an sdist and a wheel that pass
`twine check` and install into a clean venv with a working `upyflow` command."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile

import pytest

from harness import ROOT

SINE = ROOT / "examples" / "hello_world" / "sine_int8.tflite"


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    # No isolation: the dev venv already has the build backend (no download per test run).
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "deprecat" not in (proc.stdout + proc.stderr).lower()  # e.g. license metadata
    return out


def test_twine_check_passes(dist):
    pytest.importorskip("twine")
    files = sorted(str(p) for p in dist.iterdir())
    assert any(f.endswith(".whl") for f in files) and any(f.endswith(".tar.gz") for f in files)
    proc = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_wheel_holds_the_runtime_the_tools_and_the_licence(dist):
    wheel = next(dist.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "device_lib/upyflow", "host_tools/upyflow_tools"],
        capture_output=True,
        text=True,
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    for path in tracked:
        rel = path.split("/", 1)[1]
        if rel.endswith((".py", ".mpy", ".json")):
            assert rel in names, "%s missing from the wheel" % rel
    assert any(n.endswith("licenses/LICENSE") for n in names)


def test_clean_venv_install_runs_upyflow(dist, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    wheel = next(dist.glob("*.whl"))
    proc = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    exe = env_dir / "bin" / "upyflow"
    assert "upyflow" in subprocess.run([str(exe), "--version"], capture_output=True, text=True).stdout
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(exe), "bake", str(SINE), "-o", str(out), "--mpy"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "sine_int8.py").exists() and (out / "sine_int8.mpy").exists()
    # the installed runtime runs the baked module, outside the checkout
    code = (
        "import sys; sys.path.insert(0, %r); import upyflow; m = upyflow.load('sine_int8'); "
        "print(len(m.predict(bytes([0]))), m.tier)" % str(out)
    )
    proc = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0 and proc.stdout.split()[0] == "1", proc.stderr
