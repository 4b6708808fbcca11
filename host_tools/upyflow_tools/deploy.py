"""Copy the runtime, the native module for the board's arch and baked models to a board.

Works through mpremote (default) or adafruit-ampy on a serial port (a real board
or the virtual board). Files whose SHA-256 on the board already matches are
skipped. Layout on the board: /lib/upyflow/... (on sys.path of every port),
/lib/upyflow_native.mpy (the native module's core) with the kernel family modules the models
use (/lib/upyflow_native_<family>.mpy: on a board a natmod's code is copied to RAM at import,
so only what the models need goes), and the models at / next to their NAME.bin.
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

# upyflow_native.mpy per arch, shipped in this package (built by `make natmods MPY_DIR=...`).
NATMODS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "natmods")
# MicroPython's MP_NATIVE_ARCH_* numbers -> mpy-cross -march names.
ARCHS = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
         "xtensa", "xtensawin", "rv32imc", "rv64imc")
# Natmod archs a board of each arch loads, best first. Thumb firmware accepts every Thumb arch
# from armv6m up to its own (MPY_FEATURE_ARCH_TEST in py/persistentcode.h); an RV32 firmware
# with extension flags still loads a plain rv32imc module (ours asks for no extension).
COMPATIBLE = {
    "armv6m": ("armv6m",),
    "armv7m": ("armv7m", "armv6m"),
    "armv7em": ("armv7em", "armv7m", "armv6m"),
    "armv7emsp": ("armv7emsp", "armv7em", "armv7m", "armv6m"),
    "armv7emdp": ("armv7emdp", "armv7emsp", "armv7em", "armv7m", "armv6m"),
}


def decode_mpy(sys_mpy: int) -> tuple[str | None, int, tuple[int, int]]:
    """sys.implementation._mpy -> (arch name or None, arch flags, (.mpy version, sub-version)).

    Layout (py/persistentcode.h, py/modsys.c): bits 0-7 the .mpy version, 8-9 the sub-version,
    10-13 the native arch, 16 and up the arch flags (RV32 extensions such as Zba, Zcmp)."""
    n = (sys_mpy >> 10) & 0x0F
    return (ARCHS[n] if n < len(ARCHS) else None), sys_mpy >> 16, (sys_mpy & 0xFF, (sys_mpy >> 8) & 3)


def natmod_for(arch: str | None, natmods: str | None = None) -> tuple[str | None, str | None]:
    """(path, its arch) of the best shipped upyflow_native.mpy the board's arch can load."""
    natmods = natmods or NATMODS
    for cand in COMPATIBLE.get(arch, (arch,)) if arch else ():
        path = os.path.join(natmods, cand, "upyflow_native.mpy")
        if os.path.exists(path):
            return path, cand
    return None, None


def model_families(pairs: list[tuple[str, str]]) -> set[str] | None:
    """The kernel families (natmods upyflow_native_<family>) the baked models in pairs use;
    None if a model's kernels cannot be read (then every family goes)."""
    import ast
    import re

    from . import kernel_spec
    families: set[str] = set()
    for path, name in pairs:
        if name.endswith(".bin"):
            continue
        py = path[:-4] + ".py" if path.endswith(".mpy") else path
        kernels = None
        if os.path.exists(py):
            with open(py, errors="replace") as f:
                m = re.search(r"^OP_KERNELS = (\(.*\))$", f.read(), re.M)
            kernels = ast.literal_eval(m.group(1)) if m else None
        elif path.endswith(".mpy"):   # only the compiled model: the kernel names among its strings
            with open(path, "rb") as f:
                data = f.read()
            kernels = [k for k in kernel_spec.KERNELS if k.encode() in data]
        if kernels is None:
            return None
        families.update(kernel_spec.KERNELS[k].family for k in kernels
                        if k in kernel_spec.KERNELS and kernel_spec.KERNELS[k].native)
    return families


def natmod_files(core: str, families: set[str] | None) -> tuple[list[tuple[str, str]], list[str]]:
    """(local, board path) of the core natmod and of the family modules beside it that
    families names (None: all of them); and the families named but absent there."""
    here = os.path.dirname(core)
    shipped = sorted(f[len("upyflow_native_"):-4] for f in os.listdir(here)
                     if f.startswith("upyflow_native_") and f.endswith(".mpy"))
    want = shipped if families is None else sorted(families)
    files = [(core, "lib/upyflow_native.mpy")]
    files += [(os.path.join(here, "upyflow_native_%s.mpy" % f), "lib/upyflow_native_%s.mpy" % f)
              for f in want if f in shipped]
    return files, [f for f in want if f not in shipped]


def stale_natmod(arch: str | None, natmods: str | None = None) -> bool:
    """In a checkout: is the shipped arch module older than native_modules' C sources?"""
    natmods = natmods or NATMODS
    script = os.path.join(os.path.dirname(DEVICE_LIB), "native_modules", "build_natmods.py")
    if not os.path.exists(script):
        return False                               # an installed package: no sources to compare
    import importlib.util
    import json
    spec = importlib.util.spec_from_file_location("build_natmods", script)
    if spec is None or spec.loader is None:
        return False
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with open(os.path.join(natmods, "manifest.json")) as f:
        entry = json.load(f)["archs"].get(arch, {})
    return entry.get("sources_sha256") != mod.sources_digest()


def mpy_header(path: str) -> tuple[tuple[int, int], str | None]:
    """((.mpy version, sub-version), native arch or None) from a .mpy file's header."""
    with open(path, "rb") as f:
        head = f.read(3)
    if len(head) < 3 or head[:1] != b"M":
        raise BakeError("%s is not a .mpy file" % path)
    n = (head[2] >> 2) & 0x0F
    return (head[1], head[2] & 3), ARCHS[n] if n < len(ARCHS) else None


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

    def sys_mpy(self) -> int:
        """The board's sys.implementation._mpy (0 on ports that import no .mpy)."""
        out = self.exec("import sys\nprint('MPY', getattr(sys.implementation, '_mpy', 0))")
        return int(out.split("MPY")[-1].split()[0])

    def arch(self) -> str | None:
        return decode_mpy(self.sys_mpy())[0]

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


def _is_viper(rel: str) -> bool:
    """Is a runtime file (path relative to device_lib or to upyflow/) viper code?"""
    return "kernels_viper" in rel.replace(os.sep, "/").split("/")


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
            if _is_viper(rel) and arch is None:
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


def compiled_models(pairs: list[tuple[str, str]], staging: str, arch: str | None,
                    log=print) -> list[tuple[str, str]]:
    """Baked NAME.py files compiled to NAME.mpy for the board: a .py would be compiled on
    the board at import, which needs heap (a model's weights are in it)."""
    from .bake import compile_mpy
    out = []
    for local, rel in pairs:
        if rel.endswith(".py"):
            dst = os.path.join(staging, "models", rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(local, dst)
            mpy = compile_mpy(dst, arch, rel)
            log("%s: compiled to %s for the board (baked without --mpy)" % (rel, rel[:-3] + ".mpy"))
            out.append((mpy, rel[:-3] + ".mpy"))
        else:
            out.append((local, rel))
    return out


def remove_shadowing(board: Board, files: list[tuple[str, str]], keep: bool, log=print) -> list[str]:
    """MicroPython imports NAME.py before NAME.mpy from the same folder: a .py left on the
    board (a mip install of the runtime, an older deploy) would silently run instead of
    what deploy copies. Remove them, or with keep, say which would win."""
    twins = ["/" + rel[:-4] + ".py" for _, rel in files if rel.endswith(".mpy")]
    found = sorted(p for p, h in board.hashes(twins).items() if h)
    if found and keep:
        log("warning: %d .py file%s on the board will be imported instead of the .mpy deploy copied "
            "(--keep): %s" % (len(found), "s" if len(found) > 1 else "", ", ".join(found)))
    elif found:
        board.exec("import os\nfor p in %r:\n try:\n  os.remove(p)\n except OSError:\n  pass\n" % found)
        log("removed %d .py file%s that would shadow the copied .mpy: %s"
            % (len(found), "s" if len(found) > 1 else "", ", ".join(found)))
    return found


def remove_stale_families(board: Board, natmods: list[tuple[str, str]], log=print) -> list[str]:
    """Kernel family modules on the board that deploy did not copy and that differ from the
    ones beside the core it copied (an earlier build: the core would refuse them when a model
    needs them). Removed, so their kernels run in Python until a deploy copies them again."""
    here = os.path.dirname(natmods[0][0])
    copied = {rel for _, rel in natmods}
    others = {"/lib/" + f: os.path.join(here, f) for f in os.listdir(here)
              if f.startswith("upyflow_native_") and f.endswith(".mpy") and "lib/" + f not in copied}
    if not others:
        return []
    on_board = board.hashes(sorted(others))
    stale = sorted(p for p, h in on_board.items() if h and h != _sha256(others[p]))
    if stale:
        board.exec("import os\nfor p in %r:\n try:\n  os.remove(p)\n except OSError:\n  pass\n" % stale)
        log("removed %d kernel family module%s of another build from the board (a deploy of the "
            "models that use them copies them again): %s" % (len(stale), "s" if len(stale) > 1 else "",
                                                              ", ".join(stale)))
    return stale


def deploy(outdir: str, port: str = AUTO_PORT, tool: str = "mpremote", runtime: str = "mpy",
           native: str | None = None, log=print, keep: bool = False) -> Plan:
    model_files(outdir)   # a wrong folder is reported before the board is touched
    if native and not os.path.isfile(native):
        raise BakeError("--native %s: no such file (it takes a built upyflow_native.mpy)" % native)
    board = Board(port, tool)
    board.soft_reset()   # free the heap of whatever ran before: copying needs some
    arch, flags, version = decode_mpy(board.sys_mpy())
    log("board on %s: native arch %s%s (via %s)" % (port, arch or "none",
                                                  " flags 0x%x" % flags if flags else "", tool))
    native_mpy: str | None
    if native:
        if not os.path.isfile(native):
            raise BakeError("--native %s: no such file" % native)
        native_arch = mpy_header(native)[1]
        if arch and native_arch not in COMPATIBLE.get(arch, (arch,)):
            raise BakeError("--native %s holds %s code; the board (%s) loads %s" % (
                native, native_arch or "no native", arch, " or ".join(COMPATIBLE.get(arch, (arch,)))))
        native_mpy = native
    else:
        native_mpy, native_arch = natmod_for(arch)
    with tempfile.TemporaryDirectory() as staging:
        files = runtime_files(staging, arch, runtime)
        if native_mpy and not arch:
            log("the board runs no native code: %s left out, the runtime will use pure kernels" % native_mpy)
            native_mpy = None
        elif native_mpy and mpy_header(native_mpy)[0] != version:
            log("%s is .mpy v%d.%d, the board's MicroPython loads v%d.%d: left out, the runtime "
                "will use viper kernels" % ((native_mpy,) + mpy_header(native_mpy)[0] + version))
            native_mpy = None
        elif native_mpy:
            log("native module: %s%s" % (native_mpy, "" if native_arch == arch else
                                         " (%s code, loads on %s)" % (native_arch, arch)))
            if not native and stale_natmod(native_arch):
                log("warning: native_modules' C sources changed since this module was built: "
                    "make natmods MPY_DIR=/path/to/micropython (or --native FILE)")
        elif arch:
            log("no native module shipped for %s; the runtime will use viper kernels" % arch)
        has_native = native_mpy is not None
        natmods: list[tuple[str, str]] = []
        if native_mpy is not None:
            natmods, missing = natmod_files(native_mpy, model_families(model_files(outdir)))
            files += natmods
            log("kernel family modules for the models: %s" % (
                ", ".join(os.path.basename(p)[len("upyflow_native_"):-4] for p, _ in natmods[1:]) or "none"))
            if missing:
                log("note: no upyflow_native_%s.mpy beside %s: %s kernels will run in Python"
                    % ("/".join(missing), native_mpy, ", ".join(missing)))
        files += compiled_models(model_files(outdir), staging, arch, log)
        remote = ["/" + r for _, r in files]
        on_board = board.hashes(remote)
        for d in sorted({os.path.dirname(r) for _, r in files if "/" in r}):
            for k in range(1, d.count("/") + 2):
                part = "/".join(d.split("/")[:k])
                if part:
                    board.mkdir("/" + part)
        total = len(files)
        copied = 0
        pending = sum(os.path.getsize(local) for local, rel in files
                      if on_board.get("/" + rel) != _sha256(local))
        if tool == "ampy" and pending > 32 * 1024:
            log("note: ampy copies about ten times slower than mpremote; %d KB to copy "
                "(--tool mpremote is faster)" % (pending // 1024))
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
        remove_shadowing(board, files, keep, log)
        if natmods:
            remove_stale_families(board, natmods, log)
        board.soft_reset()
        log("deployed: %d copied, %d already on the board; board soft-reset" % (copied, total - copied))
        if natmods and arch in ("xtensawin", "rv32imc"):
            exec_ram(board, [p for p, _ in natmods], log)
    return Plan(files, arch, has_native)


def exec_ram(board: Board, natmods: list[str], log=print) -> bool | None:
    """On an esp32 board (natmod code goes to executable RAM there, natmod_ram): log what the
    natmods need beside the board's free executable RAM, a warning when some will not fit.
    True if they fit, False if not, None if the board reported no executable regions."""
    from .natmod_ram import EXEC_QUERY, exec_report, parse_exec_heap
    regions = parse_exec_heap(board.exec(EXEC_QUERY))
    if not regions:
        return None
    line, short = exec_report(natmods, regions)
    log(line)
    return not short


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def freeze_manifest(outdirs: list[str], path: str, march: str | None = None, log=None) -> str:
    """A manifest.py freezing the runtime and the baked models into a firmware build.

    The viper kernel modules go in only for a named arch other than armv6m: MicroPython's
    mpy-tool.py aligns frozen armv6m native code to 2 bytes while the armv6m emitter assumes 4
    for the constants it embeds, so a frozen viper function can HardFault there. Without viper
    the runtime uses the natmod (loaded from the filesystem, so aligned) or the pure kernels."""
    viper = bool(march) and march != "armv6m"
    runtime = []
    for dirpath, _dirs, files in os.walk(os.path.join(DEVICE_LIB, "upyflow")):
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), os.path.join(DEVICE_LIB, "upyflow"))
            if f.endswith(".py") and (viper or not _is_viper(rel)):
                runtime.append(rel.replace(os.sep, "/"))
    lines = ["# Generated by `upyflow freeze`: include it from your board's manifest, e.g.",
             "#   include(\"%s\")" % os.path.abspath(path),
             "# Frozen modules run from flash: their const bytes weights cost no RAM.",
             "# viper kernels: %s" % (
                 "frozen (firmware arch %s)" % march if viper else
                 "left out: frozen viper code can crash armv6m (see upyflow's README)" if march else
                 "left out: no --march given, and frozen viper code can crash armv6m"),
             "package(\"upyflow\", files=%r, base_path=%r)" % (sorted(runtime), DEVICE_LIB)]
    for outdir in outdirs:
        for f in sorted(os.listdir(outdir)):
            full = os.path.join(outdir, f)
            if f.endswith(".py") and "FORMAT_VERSION" in open(full, errors="replace").read(2000):
                lines.append("module(%r, base_path=%r)" % (f, os.path.abspath(outdir)))
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    if log and not viper:
        log("viper kernels left out of the manifest (%s): the natmod or pure kernels serve"
            % ("armv6m: frozen viper code can crash there" if march else "pass --march ARCH to freeze them"))
    return path


def write_package_json(path: str, arch: str | None = None) -> str:
    """package.json for `mip.install(...)`: every runtime file (as .py), relative to the repo root;
    with arch, also that arch's shipped natmods, the core upyflow_native.mpy and every kernel
    family's upyflow_native_<family>.mpy (installed beside the package)."""
    import json
    base = os.path.dirname(os.path.abspath(path))
    urls = []
    for dirpath, _dirs, files in os.walk(os.path.join(DEVICE_LIB, "upyflow")):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, f), DEVICE_LIB)
                src = os.path.relpath(os.path.join(dirpath, f), base)
                urls.append([rel.replace(os.sep, "/"), src.replace(os.sep, "/")])
    if arch:
        natmod = os.path.join(NATMODS, arch, "upyflow_native.mpy")
        if not os.path.exists(natmod):
            raise BakeError("no shipped natmod for %s: make natmods MPY_DIR=/path/to/micropython" % arch)
        for local, rel in natmod_files(natmod, None)[0]:   # the core and every family module
            urls.append([rel[len("lib/"):], os.path.relpath(local, base).replace(os.sep, "/")])
    from . import __version__
    with open(path, "w") as fh:
        json.dump({"urls": sorted(urls), "version": __version__}, fh, indent=2)
        fh.write("\n")
    return path


def write_mip_packages(root: str) -> list[str]:
    """ROOT/package.json (runtime only: viper or pure kernels) and ROOT/package-ARCH.json
    (runtime + natmod) for every arch shipped in NATMODS."""
    paths = [write_package_json(os.path.join(root, "package.json"))]
    for arch in sorted(os.listdir(NATMODS)) if os.path.isdir(NATMODS) else ():
        if os.path.exists(os.path.join(NATMODS, arch, "upyflow_native.mpy")):
            paths.append(write_package_json(os.path.join(root, "package-%s.json" % arch), arch))
    return paths
