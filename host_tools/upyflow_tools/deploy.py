"""Copy the runtime, the native module for the board's arch and baked models to a board.

Works through mpremote (default) or adafruit-ampy on a serial port (a real board
or the virtual board). Files whose SHA-256 on the board already matches are
skipped. Layout on the board: /lib/upyflow/... (on sys.path of every port),
/lib/upyflow_native.mpy, and the models at / next to their NAME.bin.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from . import BakeError
from .unixport import DEVICE_LIB

ROOT = os.path.dirname(DEVICE_LIB)
NATIVE_BUILD = os.path.join(ROOT, "native_modules", "micropython", "build")
# sys.implementation._mpy >> 10 -> mpy-cross -march name (MicroPython's MP_NATIVE_ARCH_*).
ARCHS = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
         "xtensa", "xtensawin", "rv32imc", "rv64imc")


def _exe(tool: str) -> str:
    beside = os.path.join(os.path.dirname(sys.executable), tool)
    found = shutil.which(tool) or (beside if os.path.exists(beside) else None)
    if not found:
        raise BakeError("%s not found: pip install %s" % (tool, "mpremote" if tool == "mpremote" else "adafruit-ampy"))
    return found


AUTO_PORT = "auto"


def connect_args(port: str) -> list[str]:
    """mpremote's connect arguments: `auto` finds the first USB serial board itself."""
    return ["connect", port]


def check_port(port: str, tool: str) -> None:
    """One clear line for a port that cannot work, before a tool fails obscurely."""
    if port == AUTO_PORT:
        if tool == "ampy":
            raise BakeError("ampy needs a port: give --port /dev/ttyACM0 (COM3 on Windows), "
                            "or use --tool mpremote, which finds the board itself")
        return
    if port.startswith("/dev/") and not os.path.exists(port):
        raise BakeError("no serial port %s: is the board plugged in? (`mpremote connect list` "
                        "shows the ports)" % port)


class Board:
    """One board behind a serial port, driven by mpremote or ampy."""

    def __init__(self, port: str = AUTO_PORT, tool: str = "mpremote") -> None:
        if tool not in ("mpremote", "ampy"):
            raise BakeError("--tool must be mpremote or ampy")
        check_port(port, tool)
        self.port, self.tool, self.exe = port, tool, _exe(tool)

    def _command(self, args: list[str], resume: bool = True) -> list[str]:
        if self.tool == "mpremote":
            return [self.exe] + connect_args(self.port) + (["resume"] if resume else []) + args
        return [self.exe, "-p", self.port] + args

    def _run(self, args: list[str], timeout: float = 120, shown: str | None = None) -> str:
        proc = subprocess.run(self._command(args), capture_output=True, text=True, timeout=timeout)
        if proc.returncode:
            msg = (proc.stderr or proc.stdout).strip().splitlines()
            last = msg[-1] if msg else "no output (exit status %d)" % proc.returncode
            if shown:
                last = last.replace(shown, "<script>")
            # args[0] names the action; the rest may be a whole script: never echo it
            raise BakeError("%s %s on %s failed: %s" % (self.tool, args[0], self.port, last))
        return proc.stdout

    def exec(self, code: str) -> str:
        """Run code on the board and return what it printed."""
        if self.tool == "mpremote":
            return self._run(["exec", code])
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(code)
        try:
            return self._run(["run", f.name], shown=f.name)
        finally:
            os.unlink(f.name)

    def run_script(self, path: str) -> int:
        """Run a local script, its output streamed to ours as the board prints it.

        A fresh interpreter (soft reset) as `mpremote run` gives by default. The exit
        status is the tool's: 1 when the script raised (the traceback was printed)."""
        sys.stdout.flush()
        return subprocess.call(self._command(["run", path], resume=False))

    def mkdir(self, path: str) -> None:
        if self.tool == "mpremote":
            self.exec("import os\ntry:\n os.mkdir(%r)\nexcept OSError:\n pass\n" % path)
        else:
            self._run(["mkdir", "--exists-okay", path])

    def put(self, local: str, remote: str) -> None:
        if self.tool == "mpremote":
            self._run(["fs", "cp", local, ":" + remote], timeout=600)
        else:
            self._run(["put", local, remote], timeout=600)

    def soft_reset(self) -> None:
        """Ctrl-D: a fresh interpreter, its heap free of what the transfers left behind."""
        if self.tool == "mpremote":
            self._run(["soft-reset"])
        # ampy soft-resets before every command anyway

    def arch(self) -> str | None:
        out = self.exec("import sys\nprint('ARCH', getattr(sys.implementation, '_mpy', 0) >> 10)")
        n = int(out.split("ARCH")[-1].split()[0])
        return ARCHS[n] if n < len(ARCHS) else None

    def hashes(self, paths: list[str]) -> dict[str, str]:
        """SHA-256 of each path on the board ('' where absent or unhashable)."""
        code = ("import hashlib, binascii\n"
                "for p in %r:\n"
                " try:\n"
                "  h = hashlib.sha256()\n"
                "  with open(p, 'rb') as f:\n"
                "   while True:\n"
                "    b = f.read(512)\n"
                "    if not b: break\n"
                "    h.update(b)\n"
                "  print('HASH', p, binascii.hexlify(h.digest()).decode())\n"
                " except Exception:\n"
                "  print('HASH', p, '-')\n" % (paths,))
        found = {}
        for line in self.exec(code).splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "HASH":
                found[parts[1]] = "" if parts[2] == "-" else parts[2]
        return found


@dataclass
class Plan:
    files: list[tuple[str, str]]     # (local path, path on the board)
    arch: str | None
    native: bool


def runtime_files(staging: str, arch: str | None, form: str = "mpy") -> list[tuple[str, str]]:
    """The device runtime as (local, remote) pairs; .mpy compiled for `arch` by mpy-cross."""
    from .bake import compile_mpy
    pairs = []
    for dirpath, _dirs, files in os.walk(os.path.join(DEVICE_LIB, "upyflow")):
        for f in sorted(files):
            if not f.endswith(".py"):
                continue
            src = os.path.join(dirpath, f)
            rel = os.path.relpath(src, DEVICE_LIB)
            if f.startswith("kernels_viper") and arch is None:
                continue                       # no native emitter on that board
            if form == "py":
                pairs.append((src, "lib/" + rel))
                continue
            dst = os.path.join(staging, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(src, dst)
            out = compile_mpy(dst, arch, rel)
            pairs.append((out, "lib/" + rel[:-3] + ".mpy"))
    return pairs


def model_files(outdir: str) -> list[tuple[str, str]]:
    """Baked models in OUTDIR: NAME.mpy if present, else NAME.py; plus NAME.bin."""
    if os.path.isfile(outdir):
        raise BakeError("%s is a file: deploy takes the folder of baked models (%s)"
                        % (outdir, os.path.dirname(outdir) or "."))
    if not os.path.isdir(outdir):
        raise BakeError("no folder %s: bake a model into it first (upyflow bake MODEL -o %s)"
                        % (outdir, outdir))
    names = sorted(os.listdir(outdir))
    pairs = []
    for f in names:
        path = os.path.join(outdir, f)
        stem, ext = os.path.splitext(f)
        if ext == ".mpy" or (ext == ".py" and stem + ".mpy" not in names) or ext == ".bin":
            if ext == ".py" and "FORMAT_VERSION" not in open(path, errors="replace").read(2000):
                continue                       # not a baked model
            pairs.append((path, f))
    if not pairs:
        raise BakeError("no baked model in %s: run `upyflow bake MODEL -o %s` first" % (outdir, outdir))
    return pairs


def deploy(outdir: str, port: str = AUTO_PORT, tool: str = "mpremote", runtime: str = "mpy",
           native: str | None = None, log=print) -> Plan:
    model_files(outdir)   # a wrong folder is reported before the board is touched
    if native and not os.path.isfile(native):
        raise BakeError("no native module %s (--native takes a built upyflow_native.mpy)" % native)
    board = Board(port, tool)
    board.soft_reset()   # free the heap of whatever ran before: copying needs some
    arch = board.arch()
    log("board on %s: native arch %s (via %s)" % (port, arch or "none", tool))
    with tempfile.TemporaryDirectory() as staging:
        files = runtime_files(staging, arch, runtime)
        native_mpy = native or (os.path.join(NATIVE_BUILD, arch, "upyflow_native.mpy") if arch else None)
        has_native = bool(native_mpy and os.path.exists(native_mpy))
        if has_native:
            files.append((native_mpy, "lib/upyflow_native.mpy"))
        else:
            log("no native module for %s (build it: make -C native_modules/micropython ARCH=%s); "
                "the runtime will use %s kernels" % (arch, arch, "viper" if arch else "pure"))
        files += model_files(outdir)
        remote = ["/" + r for _, r in files]
        on_board = board.hashes(remote)
        for d in sorted({os.path.dirname(r) for _, r in files if "/" in r}):
            for k in range(1, d.count("/") + 2):
                part = "/".join(d.split("/")[:k])
                if part:
                    board.mkdir("/" + part)
        total = len(files)
        copied = 0
        for i, (local, rel) in enumerate(files, 1):
            size = os.path.getsize(local)
            with open(local, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            if on_board.get("/" + rel) == digest:
                log("[%d/%d] %-36s %8d B  identical, skipped" % (i, total, rel, size))
                continue
            board.put(local, "/" + rel)
            copied += 1
            log("[%d/%d] %-36s %8d B  copied" % (i, total, rel, size))
        board.soft_reset()
        log("deployed: %d copied, %d already on the board; board soft-reset" % (copied, total - copied))
    return Plan(files, arch, has_native)


def freeze_manifest(outdirs: list[str], path: str) -> str:
    """A manifest.py freezing the runtime and the baked models into a firmware build."""
    lines = ["# Generated by `upyflow freeze`: include it from your board's manifest, e.g.",
             "#   include(\"%s\")" % os.path.abspath(path),
             "# Frozen modules run from flash: their const bytes weights cost no RAM.",
             "package(\"upyflow\", base_path=%r)" % DEVICE_LIB]
    for outdir in outdirs:
        for f in sorted(os.listdir(outdir)):
            full = os.path.join(outdir, f)
            if f.endswith(".py") and "FORMAT_VERSION" in open(full, errors="replace").read(2000):
                lines.append("module(%r, base_path=%r)" % (f, os.path.abspath(outdir)))
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def write_package_json(path: str) -> str:
    """package.json for `mip.install(...)`: every runtime file, relative to the repo root."""
    import json
    urls = []
    for dirpath, _dirs, files in os.walk(os.path.join(DEVICE_LIB, "upyflow")):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, f), DEVICE_LIB)
                urls.append([rel, "device_lib/" + rel])
    from . import __version__
    with open(path, "w") as fh:
        json.dump({"urls": sorted(urls), "version": __version__}, fh, indent=2)
        fh.write("\n")
    return path
