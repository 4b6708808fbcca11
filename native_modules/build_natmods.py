#!/usr/bin/env python3
"""Build upyflow's natmods for every board arch and ship them inside the Python package.

    make natmods MPY_DIR=/path/to/micropython      (or: python native_modules/build_natmods.py)

Per arch, the natmods are split so a board loads only the C a model uses (on a board a
natmod's code is copied to RAM at import): the core upyflow_native.mpy (the op-table
walker, the check interpreter, the binding) and one upyflow_native_<family>.mpy per kernel
family (native_modules/src/<family>.c and its part of the kernel table), which the runtime
imports and registers with the core when a model needs one of its kernels.

For each arch and module this runs native_modules/micropython/Makefile (MicroPython's natmod
tooling from MPY_DIR) from a clean object folder and copies the result to
host_tools/upyflow_tools/natmods/<arch>/, where `upyflow deploy` and the mip packages find
it. natmods/manifest.json records, per arch, each module's size and SHA-256, the compiler,
and the SHA-256 of the C sources they were built from (sources_digest below; also the build
id compiled into every module, so the core registers only families of its own build):
tests/test_natmods.py fails when the sources no longer match, so a stale module cannot ship.

An arch whose cross compiler is not installed is skipped with a message (its previous entry is
kept: still valid if the sources did not change, reported stale by the test otherwise); a
failing build of an installed compiler is an error (exit status 1).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MAKEDIR = os.path.join(HERE, "micropython")
OUTDIR = os.path.join(ROOT, "host_tools", "upyflow_tools", "natmods")
# The board archs upyflow ships a module for (x64: the unix port, used by the tests).
ARCHS = ("armv6m", "armv7m", "armv7emsp", "rv32imc", "xtensawin", "x64")
COMMAND = "make natmods MPY_DIR=/path/to/micropython"
BOARDS = {
    "armv6m": "RP2040 (Pico), Cortex-M0/M0+",
    "armv7m": "Cortex-M3; Cortex-M4/M7 firmware without FPU (armv7em)",
    "armv7emsp": "Cortex-M4F/M7/M33: STM32F4/F7, nRF52840, RP2350 Arm (also armv7emdp)",
    "rv32imc": "ESP32-C3/C6, RP2350 RISC-V (with or without Zba/Zcmp)",
    "xtensawin": "ESP32, ESP32-S3",
    "x64": "unix port (the tests)",
}
CORE = "upyflow_native"
# src/*.c that are no kernel family: the core's (table.c: also compiled into every family
# for its entries) and the float maths a few families link (fmath.c).
NOT_FAMILIES = ("table", "walker", "fmath")
README_BEGIN, README_END = "<!-- natmods table: written by make natmods -->", "<!-- end natmods table -->"


# Inputs beyond src/ and micropython/: the xtensawin build's own runtime, headers and object
# fix-up (LLVM path); counted when present.
EXTRA_INPUTS = (
    "native_modules/baremetal/xtensa/xtensa_rt.c",
    "native_modules/baremetal/xtensa/mpy_ld_literals.py",
    "native_modules/baremetal/xtensa/include/*",
)


def source_files(root: str = ROOT) -> list[str]:
    """The files a natmod is built from, relative to the repo root, sorted."""
    import glob

    src = os.path.join(root, "native_modules", "src")
    files = ["native_modules/src/" + f for f in os.listdir(src) if os.path.isfile(os.path.join(src, f))]
    files += ["native_modules/micropython/" + f for f in ("upyflow_native.c", "upyflow_family.c", "Makefile")]
    for pattern in EXTRA_INPUTS:
        files += [
            os.path.relpath(p, root).replace(os.sep, "/")
            for p in glob.glob(os.path.join(root, pattern))
            if os.path.isfile(p)
        ]
    return sorted(files)


def families(root: str = ROOT) -> list[str]:
    """The kernel families, one natmod each: the stems of native_modules/src/*.c but the core's."""
    src = os.path.join(root, "native_modules", "src")
    return sorted(f[:-2] for f in os.listdir(src) if f.endswith(".c") and f[:-2] not in NOT_FAMILIES)


def modules(root: str = ROOT) -> list[str]:
    """Every natmod of an arch: the core first, then the families'."""
    return [CORE] + [CORE + "_" + f for f in families(root)]


def sources_digest(root: str = ROOT) -> str:
    """SHA-256 over (path, content) of source_files(); CRLF read as LF so a Windows checkout agrees."""
    h = hashlib.sha256()
    for rel in source_files(root):
        with open(os.path.join(root, rel), "rb") as f:
            data = f.read().replace(b"\r\n", b"\n")
        h.update(rel.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()


def _make(mpy_dir: str, arch: str, *targets: str, extra: list[str] | None = None) -> subprocess.CompletedProcess:
    cmd = (
        ["make", "-C", MAKEDIR]
        + (extra or [])
        + ["ARCH=" + arch, "MPY_DIR=" + mpy_dir, "PYTHON=" + sys.executable]
        + list(targets)
    )
    # mpy_ld iterates over sets of symbol names: a fixed hash seed makes the .mpy reproducible.
    return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONHASHSEED="0"))


def compiler(mpy_dir: str, arch: str) -> tuple[str, str | None]:
    """(the Makefile's C compiler for arch, its first --version line or None if not installed)."""
    with tempfile.NamedTemporaryFile("w", suffix=".mk", delete=False) as f:
        f.write("print-cc:\n\t@echo CC=$(CC)\n")
    try:
        proc = _make(mpy_dir, arch, "print-cc", extra=["-f", "Makefile", "-f", f.name])
    finally:
        os.unlink(f.name)
    cc = ""
    for line in proc.stdout.splitlines():
        if line.startswith("CC="):
            cc = line[3:].split()[0] if line[3:].split() else ""
    if not cc or shutil.which(cc) is None:
        return cc or "?", None
    ver = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.splitlines()
    return cc, ver[0].strip() if ver else cc


def mpy_cross_version(mpy_dir: str) -> str:
    exe = os.path.join(mpy_dir, "mpy-cross", "build", "mpy-cross")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    # "MicroPython v1.29.0 on 2026-01-01; mpy-cross emitting mpy v6.3": drop the build date
    head, _, tail = out.partition(";")
    return head.split(" on ")[0] + (";" + tail if tail else "")


def table(manifest: dict) -> str:
    """The README table of shipped natmods, from natmods/manifest.json."""
    rows = [
        "| arch | boards | compiler | core .mpy bytes | all families' bytes (largest) | mip package |",
        "|---|---|---|---:|---:|---|",
    ]
    for arch in ARCHS:
        e = manifest["archs"].get(arch)
        if e:
            mods = e["modules"]
            fams = {m: v["size"] for m, v in mods.items() if m != CORE}
            big = max(fams, key=lambda m: fams[m])
            rows.append(
                "| %s | %s | %s | %d | %d (%s %d) | `package-%s.json` |"
                % (
                    arch,
                    BOARDS[arch],
                    e["compiler"],
                    mods[CORE]["size"],
                    sum(fams.values()),
                    big[len(CORE) + 1 :],
                    fams[big],
                    arch,
                )
            )
        else:
            rows.append("| %s | %s | - | not built | - | - |" % (arch, BOARDS[arch]))
    return "\n".join(rows)


def update_readmes(manifest: dict, root: str = ROOT) -> None:
    """Put table() between the markers of README.md and native_modules/README.md."""
    for rel in ("README.md", "native_modules/README.md"):
        path = os.path.join(root, rel)
        with open(path) as f:
            text = f.read()
        if README_BEGIN in text and README_END in text:
            head, rest = text.split(README_BEGIN, 1)
            text = head + README_BEGIN + "\n" + table(manifest) + "\n" + README_END + rest.split(README_END, 1)[1]
            with open(path, "w") as f:
                f.write(text)


def build_modules(mpy_dir: str, arch: str, build_id: str, log=print) -> dict[str, tuple[str, bytes]] | None:
    """Every module of arch (modules()) built from clean into native_modules/micropython/build/
    <arch>/: module -> (path, its bytes); None (the failure logged) if one fails. The core
    first, then the families a few at a time (separate object folders; mpy_ld's libgcc index,
    .mpy_ld_cache-<arch>, is kept between them: `make clean` would delete it)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(mod: str):
        extra = (["FAMILY=" + mod[len(CORE) + 1 :]] if mod != CORE else []) + ["UF_BUILD=0x" + build_id]
        built = os.path.join(MAKEDIR, "build", arch, mod + ".mpy")
        shutil.rmtree(os.path.join(MAKEDIR, "build", arch, "obj", mod), ignore_errors=True)
        if os.path.exists(built):
            os.unlink(built)
        proc = _make(mpy_dir, arch, extra=extra)
        if proc.returncode or not os.path.exists(built):
            return mod, None, (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        with open(built, "rb") as f:
            return mod, (built, f.read()), None

    mods = modules()
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        results = [one(mods[0])] + list(pool.map(one, mods[1:]))
    entry = {}
    for mod, got, tail in results:
        if got is None:
            log("FAILED  %-9s %s:\n    %s" % (arch, mod, "\n    ".join(tail)))
            return None
        entry[mod] = got
    return entry


def build(mpy_dir: str, archs: list[str], outdir: str = OUTDIR, log=print) -> int:
    mpy_dir = os.path.abspath(mpy_dir)
    if not os.path.isfile(os.path.join(mpy_dir, "py", "dynruntime.mk")):
        log("error: MPY_DIR=%s is not a MicroPython source tree (no py/dynruntime.mk)" % mpy_dir)
        return 2
    if not os.path.isfile(os.path.join(mpy_dir, "mpy-cross", "build", "mpy-cross")):
        log("error: build mpy-cross in the MicroPython tree first: make -C %s/mpy-cross" % mpy_dir)
        return 2
    manifest_path = os.path.join(outdir, "manifest.json")
    manifest = {"archs": {}}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    digest = sources_digest()
    mpver = mpy_cross_version(mpy_dir)
    failed, skipped = [], []
    for arch in archs:
        cc, ver = compiler(mpy_dir, arch)
        if ver is None:
            log("SKIPPED %-9s compiler %s not installed (entry left as it was)" % (arch, cc))
            skipped.append(arch)
            continue
        entry = build_modules(mpy_dir, arch, digest[:8], log)
        if entry is None:
            failed.append(arch)
            continue
        os.makedirs(os.path.join(outdir, arch), exist_ok=True)
        for old in os.listdir(os.path.join(outdir, arch)):  # modules of an earlier split
            if old.endswith(".mpy"):
                os.unlink(os.path.join(outdir, arch, old))
        for mod, (built, _data) in entry.items():
            shutil.copyfile(built, os.path.join(outdir, arch, mod + ".mpy"))
        manifest["archs"][arch] = {
            "modules": {m: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for m, (_, d) in entry.items()},
            "sources_sha256": digest,
            "compiler": ver,
            "micropython": mpver,
        }
        data = b"".join(d for _, d in entry.values())
        log(
            "OK      %-9s %7d bytes in %d modules (core %d)  %s"
            % (arch, len(data), len(entry), len(entry[CORE][1]), ver)
        )
    manifest["command"] = COMMAND
    manifest["sources"] = source_files()
    manifest["archs"] = dict(sorted(manifest["archs"].items()))
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    update_readmes(manifest)
    if skipped:
        log("skipped (no compiler): %s" % " ".join(skipped))
    if failed:
        log("failed: %s" % " ".join(failed))
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--mpy-dir",
        default=os.environ.get("MPY_DIR"),
        help="MicroPython source tree with mpy-cross built (default: $MPY_DIR)",
    )
    p.add_argument(
        "--arch",
        action="append",
        choices=ARCHS,
        help="build only this arch (repeatable; default: all of %s)" % " ".join(ARCHS),
    )
    p.add_argument(
        "--build-only",
        action="store_true",
        help="only build into native_modules/micropython/build/<arch>/ (the tests' natmods): "
        "nothing shipped, no manifest",
    )
    args = p.parse_args(argv)
    if not args.mpy_dir:
        p.error("pass MPY_DIR=/path/to/micropython (or --mpy-dir)")
    if args.build_only:
        ok = [build_modules(os.path.abspath(args.mpy_dir), a, sources_digest()[:8]) for a in args.arch or ARCHS]
        return 0 if all(e is not None for e in ok) else 1
    return build(args.mpy_dir, args.arch or list(ARCHS))


if __name__ == "__main__":
    sys.exit(main())
