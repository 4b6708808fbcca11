"""upyflow: run baked TFLite models on MicroPython, CircuitPython and CPython."""

from .model import Model, FORMAT_VERSION
from . import dispatch

__version__ = "0.1.0"


def load(name, tier=None, verify=False):
    """Import the baked module `name` from sys.path and return a Model.

    tier: 'native', 'viper' or 'pure' to force a kernel tier (default: the
    UPYFLOW_TIER environment variable, else the fastest available).
    verify: check the weights (inline or NAME.bin) against the CRC-32 baked with
    them, raising ValueError on a mismatch. Off by default: it reads every weight
    byte once (sizes and records are always checked at load)."""
    try:
        module = __import__(name)
    except ImportError as e:
        raise ImportError("no baked model module %r on sys.path (%s)" % (name, e))
    except MemoryError:
        raise MemoryError(_import_oom(name))
    model = Model(module, tier, verify)
    # The model keeps what it needs; dropping the module frees its op table.
    try:
        import sys
        del sys.modules[name]
    except (ImportError, KeyError):
        pass
    return model


def backend():
    """The kernel tier models load with by default: 'native', 'viper' or 'pure'."""
    return dispatch.default_tier()


def tiers():
    """The kernel tiers this Python can run, fastest first."""
    return [t for t in dispatch.TIERS if dispatch.available(t)]


def _import_oom(name):
    # What importing needs is at least the module file's size (its weights are in it).
    import gc, os, sys
    gc.collect()
    for d in sys.path:
        for ext in (".mpy", ".py"):
            try:
                size = os.stat((d + "/" if d else "") + name + ext)[6]
            except OSError:
                continue
            return ("not enough RAM to import baked model %r: %s%s is %d bytes and importing it "
                    "needs at least that (%d bytes free); bake with --weights file, or freeze "
                    "it into the firmware%s" % (name, name, ext, size, gc.mem_free(),
                                               ", or use its .mpy" if ext == ".py" else ""))
    return "not enough RAM to import baked model %r" % name
