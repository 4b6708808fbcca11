"""The natmods shipped in the package (host_tools/upyflow_tools/natmods): current with the C
sources, what deploy picks for each board arch, the mip packages, and `upyflow freeze` per arch.
No MicroPython source tree needed (MPY_DIR only adds the check with MicroPython's manifest tool)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from harness import ROOT, bake_model, needs_micropython
from upyflow_tools import deploy as dp
from upyflow_tools.cli import main

# by path, not through sys.path: native_modules/micropython would shadow `import micropython`
_spec = importlib.util.spec_from_file_location("build_natmods", ROOT / "native_modules" / "build_natmods.py")
build_natmods = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_natmods)
ARCHS, COMMAND, sources_digest, table = (
    build_natmods.ARCHS,
    build_natmods.COMMAND,
    build_natmods.sources_digest,
    build_natmods.table,
)

NATMODS = ROOT / "host_tools" / "upyflow_tools" / "natmods"
MANIFEST = json.loads((NATMODS / "manifest.json").read_text())
SINE = ROOT / "examples" / "hello_world" / "sine_int8.tflite"


def sys_mpy(arch: str | None, flags: int = 0, version: int = 6, sub: int = 3) -> int:
    """sys.implementation._mpy as MicroPython builds it (py/persistentcode.h, py/modsys.c)."""
    n = dp.ARCHS.index(arch)
    return version | ((sub | n << 2) << 8) | flags << 16


def test_shipped_natmods_are_built_from_the_current_sources():
    digest = sources_digest()
    stale = sorted(a for a, e in MANIFEST["archs"].items() if e["sources_sha256"] != digest)
    assert not stale, (
        "native_modules sources changed since these shipped natmods were built: %s. "
        "Run `%s` and commit host_tools/upyflow_tools/natmods and package-*.json" % (", ".join(stale), COMMAND)
    )


@pytest.mark.parametrize("arch", ARCHS)
def test_every_board_arch_is_shipped_as_recorded(arch):
    entry = MANIFEST["archs"].get(arch)
    assert entry is not None, "no shipped %s natmods: run `%s`" % (arch, COMMAND)
    # the core and one module per kernel family, nothing else
    assert sorted(p.name for p in (NATMODS / arch).iterdir()) == sorted(m + ".mpy" for m in build_natmods.modules())
    assert sorted(entry["modules"]) == sorted(build_natmods.modules())
    for mod, rec in entry["modules"].items():
        path = NATMODS / arch / (mod + ".mpy")
        data = path.read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (rec["size"], rec["sha256"]), (
            "%s differs from natmods/manifest.json: run `%s`" % (path, COMMAND)
        )
        # The .mpy header names the arch it holds code for, and the .mpy version 6.3 (v1.23+).
        assert data[:2] == b"M\x06" and data[2] & 3 == 3
        assert dp.ARCHS[(data[2] >> 2) & 0x0F] == arch


def test_a_natmod_per_kernel_family():
    """The family modules are the spec's families of native kernels, each with a C file of its stem."""
    from upyflow_tools import kernel_spec

    assert build_natmods.families() == sorted({k.family for k in kernel_spec.NATIVE})
    assert build_natmods.modules()[0] == "upyflow_native"


def test_readme_natmod_tables_match_the_manifest():
    for rel in ("README.md", "native_modules/README.md"):
        assert table(MANIFEST) in (ROOT / rel).read_text(), "%s: natmod table out of date: `%s`" % (rel, COMMAND)
    readme = (ROOT / "README.md").read_text()
    for arch in MANIFEST["archs"]:
        assert 'mip.install("github:OWNER/upyflow/package-%s.json")' % arch in readme or arch == "x64"


@pytest.mark.parametrize("arch", [a for a in dp.ARCHS if a])
def test_decode_mpy_reads_every_arch(arch):
    assert dp.decode_mpy(sys_mpy(arch)) == (arch, 0, (6, 3))


def test_decode_mpy_masks_the_rv32_extension_flags():
    # RP2350 RISC-V / ESP32-P4 firmware: Zba and Zcmp flags above the arch field.
    n = sys_mpy("rv32imc", flags=0b11)
    assert n >> 10 == 203  # what the unmasked shift read: "no native arch"
    assert dp.decode_mpy(n) == ("rv32imc", 3, (6, 3))
    assert dp.decode_mpy(0) == (None, 0, (0, 0))  # a port that imports no .mpy


@pytest.mark.parametrize(
    "board, natmod",
    [
        ("armv6m", "armv6m"),
        ("armv7m", "armv7m"),
        ("armv7em", "armv7m"),  # Cortex-M4 without FPU: no armv7em build, armv7m code loads
        ("armv7emsp", "armv7emsp"),
        ("armv7emdp", "armv7emsp"),  # Cortex-M7 double precision: single-precision code loads
        ("rv32imc", "rv32imc"),
        ("xtensawin", "xtensawin"),
        ("x64", "x64"),
        ("xtensa", None),
        ("x86", None),
        ("armv6", None),
        ("rv64imc", None),
        (None, None),
    ],
)
def test_natmod_for_picks_the_best_compatible_arch(board, natmod, tmp_path):
    for a in ARCHS:  # every shipped arch, xtensawin included
        (tmp_path / a).mkdir()
        (tmp_path / a / "upyflow_native.mpy").write_bytes(b"M")
    path, arch = dp.natmod_for(board, str(tmp_path))
    assert arch == natmod
    assert path == (str(tmp_path / natmod / "upyflow_native.mpy") if natmod else None)


def test_natmod_for_never_picks_an_arch_the_board_cannot_load(tmp_path):
    (tmp_path / "armv7emsp").mkdir()
    (tmp_path / "armv7emsp" / "upyflow_native.mpy").write_bytes(b"M")
    for board in ("armv6m", "armv7m", "armv7em"):  # no FPU / older Thumb: emsp code faults
        assert dp.natmod_for(board, str(tmp_path)) == (None, None)


class FakeBoard:
    """A board that answers like one with the given sys.implementation._mpy; records copies."""

    def __init__(self, mpy: int) -> None:
        self.mpy, self.put_files = mpy, {}

    def soft_reset(self):
        pass

    def sys_mpy(self):
        return self.mpy

    def hashes(self, paths):
        return {}

    def mkdir(self, path):
        pass

    def put(self, local, remote):
        with open(local, "rb") as f:  # staged files are gone after deploy
            self.put_files[remote] = (local, f.read())

    def exec(self, code):
        return ""


@pytest.mark.parametrize("board, natmod", [("rv32imc", "rv32imc"), ("armv7em", "armv7m"), ("armv7emdp", "armv7emsp")])
def test_deploy_copies_the_shipped_natmod_with_nothing_built(board, natmod, tmp_path, monkeypatch):
    mdir, _, _ = bake_model(SINE, tmp_path / "out", name="sine")
    fake = FakeBoard(sys_mpy(board, flags=3 if board == "rv32imc" else 0))
    monkeypatch.setattr(dp, "Board", lambda port, tool: fake)
    log = []
    plan = dp.deploy(mdir, "PORT", log=log.append)
    assert plan.arch == board and plan.native
    assert fake.put_files["/lib/upyflow_native.mpy"][0] == str(NATMODS / natmod / "upyflow_native.mpy")
    # sine runs FULLY_CONNECTED only: of the family modules, fc's alone
    natmods = sorted(r for r in fake.put_files if r.startswith("/lib/upyflow_native"))
    assert natmods == ["/lib/upyflow_native.mpy", "/lib/upyflow_native_fc.mpy"]
    assert fake.put_files["/lib/upyflow_native_fc.mpy"][0] == str(NATMODS / natmod / "upyflow_native_fc.mpy")
    viper = fake.put_files["/lib/upyflow/kernels_viper/conv.mpy"][1]
    assert dp.ARCHS[(viper[2] >> 2) & 0x0F] == board  # the runtime's viper code, for the board's arch
    assert any("native module" in line for line in log)


def test_xtensa_cycle_harness_builds_the_natmods_minsize_sources_alike():
    """The natmod Makefile's -Oz modules for xtensawin (XT_OZ) and the Xtensa cycle-estimate
    harness's -Oz sources (xtensa_qemu.XT_OZ_SOURCES) name the same code: the core's walker
    and the same families."""
    from upyflow_tools.isa import xtensa_qemu

    line = [ln for ln in (ROOT / "native_modules" / "micropython" / "Makefile").read_text().splitlines()]
    line = [ln for ln in line if ln.startswith("XT_OZ =")][0]
    mods = line.split("=", 1)[1].replace("$(addprefix upyflow_native_,", "").replace(")", "").split()
    assert mods[0] == "upyflow_native"
    assert set(xtensa_qemu.XT_OZ_SOURCES) == {"walker"} | set(mods[1:])
    assert set(mods[1:]) <= set(build_natmods.families())


def _text_by_mpy_tool(path) -> int:
    """A natmod's machine-code bytes as MicroPython's own tools/mpy-tool.py reads them."""
    mpy_dir = os.environ.get("MPY_DIR")
    if not mpy_dir or not os.path.isfile(os.path.join(mpy_dir, "tools", "mpy-tool.py")):
        pytest.skip("MPY_DIR unset: MicroPython's tools/mpy-tool.py reads the natmods independently")
    proc = subprocess.run(
        [sys.executable, os.path.join(mpy_dir, "tools", "mpy-tool.py"), "-d", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("raw data:")][0]
    return int(line.split()[2])


@pytest.mark.parametrize("arch", ["xtensawin", "rv32imc"])
def test_natmod_code_bytes_match_micropythons_reader(arch):
    from upyflow_tools.natmod_ram import exec_block, import_bytes

    for mod in build_natmods.modules():
        path = NATMODS / arch / (mod + ".mpy")
        text = _text_by_mpy_tool(path)
        assert import_bytes(str(path))[0] == text, mod
        assert exec_block(str(path)) == (text + 3) // 4 * 4 + 4  # esp_native_code_commit's block


@pytest.mark.parametrize("room, fits", [(0, True), (-4, False)])
def test_deploy_reports_an_esp32_boards_executable_ram(room, fits, tmp_path, monkeypatch):
    """An ESP32 (xtensawin) board: after copying, deploy reads its free executable RAM
    (esp32.idf_heap_info(esp32.HEAP_EXEC)) and warns when a natmod's code block cannot fit."""
    from upyflow_tools.natmod_ram import import_bytes

    mdir, _, _ = bake_model(SINE, tmp_path / "out", name="sine")
    # the blocks esp32's esp_native_code_commit allocates: text rounded to 4, plus a 4-byte node
    core, fc = (
        (import_bytes(str(NATMODS / "xtensawin" / (m + ".mpy")))[0] + 3) // 4 * 4 + 4
        for m in ("upyflow_native", "upyflow_native_fc")
    )
    # two regions: one just big enough for the core (or 4 bytes short), one for fc
    regions = [(130000, fc + 100, fc + 100, 0), (20000, core + room, core + room, 0)]

    class Esp32(FakeBoard):
        def exec(self, code):
            return "EXEC %r\n" % regions if "HEAP_EXEC" in code else ""

    fake = Esp32(sys_mpy("xtensawin"))
    monkeypatch.setattr(dp, "Board", lambda port, tool: fake)
    monkeypatch.setattr(dp, "runtime_files", lambda staging, arch, form: [])
    log = []
    dp.deploy(mdir, "PORT", log=log.append)
    said = [ln for ln in log if "executable RAM" in ln]
    assert len(said) == 1, log
    assert ("need %d bytes (largest upyflow_native %d)" % (core + fc, core)) in said[0]
    assert ("%d free" % (fc + 100 + core + room)) in said[0]
    assert said[0].startswith("warning: ") != fits
    # not an esp32 (no esp32 module): nothing said
    monkeypatch.setattr(Esp32, "exec", lambda self, code: "EXEC -\n")
    log = []
    dp.deploy(mdir, "PORT", log=log.append)
    assert not [ln for ln in log if "executable RAM" in ln]


def test_model_families_from_the_source_or_the_compiled_module(tmp_path):
    """The families deploy copies: from OP_KERNELS in NAME.py, else the kernel names among a
    compiled NAME.mpy's strings; every family when a model's kernels cannot be read."""
    mdir, _, _ = bake_model(SINE, tmp_path / "out", name="sine", mpy=True)
    assert dp.model_families(dp.model_files(mdir)) == {"fc"}
    os.remove(os.path.join(mdir, "sine.py"))  # only sine.mpy left
    assert dp.model_files(mdir) == [(os.path.join(mdir, "sine.mpy"), "sine.mpy")]
    assert dp.model_families(dp.model_files(mdir)) == {"fc"}
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "m.py").write_text("FORMAT_VERSION = 1\nOP_KERNELS = build()\n")  # not a literal
    assert dp.model_families(dp.model_files(str(odd))) is None
    files, missing = dp.natmod_files(str(NATMODS / "armv6m" / "upyflow_native.mpy"), None)
    assert [r for _, r in files] == ["lib/%s.mpy" % m for m in build_natmods.modules()] and missing == []


def test_deploy_removes_family_modules_of_another_build(tmp_path, monkeypatch):
    """A family module left on the board by an earlier build (the core would refuse it) goes; an
    identical one, or one the models need (copied anyway), stays."""
    mdir, _, _ = bake_model(SINE, tmp_path / "out", name="sine")
    shipped_pool = hashlib.sha256((NATMODS / "armv6m" / "upyflow_native_pool.mpy").read_bytes()).hexdigest()
    on_board = {"/lib/upyflow_native_conv.mpy": "0" * 64, "/lib/upyflow_native_pool.mpy": shipped_pool}

    class Stale(FakeBoard):
        code = ""

        def hashes(self, paths):
            return {p: on_board.get(p, "") for p in paths}

        def exec(self, code):
            self.code += code
            return ""

    fake = Stale(sys_mpy("armv6m"))
    monkeypatch.setattr(dp, "Board", lambda port, tool: fake)
    monkeypatch.setattr(dp, "runtime_files", lambda staging, arch, form: [])
    log = []
    dp.deploy(mdir, "PORT", log=log.append)
    assert "/lib/upyflow_native_fc.mpy" in fake.put_files
    assert "'/lib/upyflow_native_conv.mpy'" in fake.code and "pool" not in fake.code
    assert any(line.startswith("removed 1 kernel family module of another build") for line in log)


def test_deploy_leaves_out_a_natmod_of_another_mpy_version(tmp_path, monkeypatch):
    mdir, _, _ = bake_model(SINE, tmp_path / "out", name="sine")
    fake = FakeBoard(sys_mpy("armv6m", sub=2))  # MicroPython v1.22: .mpy 6.2
    monkeypatch.setattr(dp, "Board", lambda port, tool: fake)
    monkeypatch.setattr(dp, "runtime_files", lambda staging, arch, form: [])
    log = []
    plan = dp.deploy(mdir, "PORT", log=log.append)
    assert not plan.native and "/lib/upyflow_native.mpy" not in fake.put_files
    assert any("v6.3" in line and "v6.2" in line for line in log)


def test_mip_package_per_arch_lists_runtime_and_natmod():
    runtime = sorted(str(p.relative_to(ROOT / "device_lib")) for p in (ROOT / "device_lib" / "upyflow").rglob("*.py"))
    mods = [m + ".mpy" for m in build_natmods.modules()]
    for arch in MANIFEST["archs"]:
        urls = json.loads((ROOT / ("package-%s.json" % arch)).read_text())["urls"]
        assert sorted(d for d, _ in urls) == sorted(runtime + mods)  # the core and every family
        for _dest, src in urls:
            assert (ROOT / src).is_file() and "\\" not in src
        for m in mods:
            assert dict(urls)[m] == "host_tools/upyflow_tools/natmods/%s/%s" % (arch, m)


def test_mip_packages_are_regenerated_identically(tmp_path, monkeypatch):
    """`make package.json` output is what is committed (run it after `make natmods`)."""
    import shutil

    root = tmp_path / "repo"
    for d in ("device_lib", "host_tools/upyflow_tools/natmods"):
        shutil.copytree(ROOT / d, root / d)
    monkeypatch.setattr(dp, "DEVICE_LIB", str(root / "device_lib"))
    monkeypatch.setattr(dp, "NATMODS", str(root / "host_tools/upyflow_tools/natmods"))
    for path in dp.write_mip_packages(str(root)):
        name = os.path.basename(path)
        assert (ROOT / name).read_text() == open(path).read(), "%s is out of date: make package.json" % name


@needs_micropython
def test_mip_install_x64_package_gives_the_native_tier(tmp_path):
    """`mpremote mip install package-x64.json` from a clone, on the virtual board."""
    from upyflow_tools.deploy import _exe
    from upyflow_tools.vboard import VirtualBoard

    if MANIFEST["archs"].get("x64", {}).get("sources_sha256") != sources_digest():
        pytest.skip("shipped x64 natmod is stale: `%s`" % COMMAND)
    mdir, _, _ = bake_model(SINE, tmp_path / "out", name="sine")
    with VirtualBoard() as b:
        mip = subprocess.run(
            [_exe("mpremote"), "connect", b.port, "mip", "install", "package-x64.json"],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=str(ROOT),
        )
        assert mip.returncode == 0, mip.stdout + mip.stderr
        assert (tmp_path / "out" / "sine.py").exists()
        import shutil

        shutil.copy(os.path.join(mdir, "sine.py"), b.root)
        script = "import upyflow\nm = upyflow.load('sine')\nprint('TIER', m.tier, m.predict(bytes([0]))[0])"
        run = subprocess.run(
            [_exe("mpremote"), "connect", b.port, "exec", script], capture_output=True, text=True, timeout=120
        )
    assert "TIER native" in run.stdout, run.stdout + run.stderr


def _frozen(manifest_path) -> list[str]:
    """The runtime files a manifest freezes, read the way MicroPython's manifest tool does."""
    calls = []
    exec(open(manifest_path).read(), {"package": lambda *a, **k: calls.append((a, k)), "module": lambda *a, **k: None})
    (name,), kw = calls[0]
    assert name == "upyflow"
    return kw["files"]


@pytest.mark.parametrize(
    "march, viper",
    [(None, False), ("armv6m", False), ("armv7m", True), ("armv7emsp", True), ("xtensawin", True), ("rv32imc", True)],
)
def test_freeze_leaves_viper_out_unless_the_arch_is_safe(march, viper, tmp_path, capsys):
    mdir, _, _ = bake_model(SINE, tmp_path / "out", name="sine")
    manifest = tmp_path / "manifest.py"
    assert main(["freeze", mdir, "-o", str(manifest)] + (["--march", march] if march else [])) == 0
    files = _frozen(manifest)
    assert "model.py" in files and "kernels_pure/conv.py" in files
    assert any(f.startswith("kernels_viper") for f in files) == viper
    out = capsys.readouterr().out
    assert ("viper kernels left out" in out) == (not viper)
    if march == "armv6m":
        assert "crash" in out


def test_freeze_manifest_with_micropythons_manifest_tool(tmp_path):
    """MicroPython's own tools/manifestfile.py resolves every file the manifest names."""
    mpy_dir = os.environ.get("MPY_DIR")
    if not mpy_dir or not os.path.exists(os.path.join(mpy_dir, "tools", "manifestfile.py")):
        pytest.skip("MPY_DIR not set: MicroPython's manifest tool is in its source tree")
    spec = importlib.util.spec_from_file_location("manifestfile", os.path.join(mpy_dir, "tools", "manifestfile.py"))
    manifestfile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(manifestfile)
    mdir, _, _ = bake_model(SINE, tmp_path / "out", name="sine")
    for march, viper in (("armv6m", False), ("armv7emsp", True)):
        manifest = tmp_path / ("manifest_%s.py" % march)
        assert main(["freeze", mdir, "-o", str(manifest), "--march", march]) == 0
        m = manifestfile.ManifestFile(manifestfile.MODE_FREEZE, {"MPY_DIR": mpy_dir})
        m.execute(str(manifest))
        targets = [f.target_path for f in m.files()]
        assert "upyflow/model.py" in targets and "sine.py" in targets
        assert ("upyflow/kernels_viper/conv.py" in targets) == viper
        assert all(os.path.exists(f.full_path) for f in m.files())


def test_package_data_ships_every_natmod():
    """pyproject's package-data globs take every shipped file into the wheel and sdist
    (checked by hand with `pip wheel .`: upyflow_tools/natmods/<arch>/upyflow_native*.mpy)."""
    import fnmatch

    tomllib = pytest.importorskip("tomllib")
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = conf["package-data"]["upyflow_tools"]
    shipped = [p.relative_to(NATMODS.parent).as_posix() for p in NATMODS.rglob("*") if p.is_file()]
    assert len(shipped) == sum(len(e["modules"]) for e in MANIFEST["archs"].values()) + 1
    for rel in shipped:
        assert any(fnmatch.fnmatch(rel, g) for g in globs), rel


def test_deploy_native_option_refuses_code_the_board_cannot_load(tmp_path, monkeypatch, capsys):
    mdir, _, _ = bake_model(SINE, tmp_path / "out", name="sine")
    monkeypatch.setattr(dp, "Board", lambda port, tool: FakeBoard(sys_mpy("armv6m")))
    emsp = str(NATMODS / "armv7emsp" / "upyflow_native.mpy")
    assert main(["deploy", mdir, "--port", "P", "--native", emsp]) == 2
    assert "--native %s holds armv7emsp code; the board (armv6m) loads armv6m" % emsp in capsys.readouterr().err
    assert main(["deploy", mdir, "--port", "P", "--native", str(tmp_path / "nope.mpy")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_deploy_warns_when_the_checkouts_sources_are_newer(tmp_path, monkeypatch):
    mdir, _, _ = bake_model(SINE, tmp_path / "out", name="sine")
    monkeypatch.setattr(dp, "Board", lambda port, tool: FakeBoard(sys_mpy("armv6m")))
    monkeypatch.setattr(dp, "runtime_files", lambda staging, arch, form: [])
    man = json.loads((NATMODS / "manifest.json").read_text())
    man["archs"]["armv6m"]["sources_sha256"] = "0" * 64  # built from other sources
    fake = tmp_path / "natmods"
    (fake / "armv6m").mkdir(parents=True)
    (fake / "armv6m" / "upyflow_native.mpy").write_bytes((NATMODS / "armv6m" / "upyflow_native.mpy").read_bytes())
    (fake / "manifest.json").write_text(json.dumps(man))
    monkeypatch.setattr(dp, "NATMODS", str(fake))
    log = []
    dp.deploy(mdir, "PORT", log=log.append)
    assert any(line.startswith("warning: native_modules' C sources changed") for line in log)
    if MANIFEST["archs"]["armv6m"]["sources_sha256"] == sources_digest():  # shipped and current
        monkeypatch.setattr(dp, "NATMODS", str(NATMODS))
        log = []
        dp.deploy(mdir, "PORT", log=log.append)
        assert not any(line.startswith("warning") for line in log)
