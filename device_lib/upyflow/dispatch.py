# The one dispatch table: kernel name -> (function, convention), built once per
# tier. Tiers overlay each other: pure has every kernel; viper and native
# replace the ones they implement with the same names.
#
# Conventions: PURE kernels are called fn(*args) with typed views (signed,
# indexable); FAST kernels (viper, native C) are called fn(args) with one tuple
# holding raw byte memoryviews then the integer/float parameters, so invoke()
# makes no allocation and viper's 4-argument limit does not bite.

PURE = 0
FAST = 1
TIERS = ("native", "viper", "pure")


# Pure kernel -> its family module: kernels_pure.FAMILIES, imported only when a
# model needs a pure kernel (the table costs ~3 KB of heap on a board).
def _families():
    from .kernels_pure import FAMILIES
    return FAMILIES


# Viper kernel -> its family module in kernels_viper/, imported only when a model
# uses one of its kernels: on a board the machine code lives in the heap.
VIPER_FAMILIES = {
    "conv2d_s8": "conv", "depthwise_conv2d_s8": "conv",
    "conv2d_s16": "conv", "depthwise_conv2d_s16": "conv",
    "fully_connected_s8": "fc", "fully_connected_s16": "fc",
    "transpose_conv_s8": "transpose_conv",
    "avg_pool2d_s8": "pool", "max_pool2d_s8": "pool",
    "svdf_s8_i16": "svdf", "svdf_s8_i8": "svdf", "lstm_s8": "lstm",
    "resize_nearest": "resize", "resize_bilinear_s8": "resize",
    "signal_rfft_s16": "signal", "signal_window_s16": "signal",
    "signal_fft_auto_scale_s16": "signal",
    "image_to_input": "image",
}


class _Kernels:
    # name -> (function, convention): the fast tiers' dicts first, then their
    # lazily imported families, then pure.
    def __init__(self, fast, lazy):
        self._fast = fast
        self._lazy = lazy

    def __contains__(self, name):
        # the lazy map before pure's: a model whose kernels are all viper never loads the latter
        return any(name in f for f in self._fast) or name in self._lazy or name in _families()

    def __getitem__(self, name):
        for f in self._fast:
            if name in f:
                return f[name]
        family = self._lazy.get(name)
        if family:
            try:
                mod = __import__("upyflow.kernels_viper." + family, None, None, [family])
                return getattr(mod, name), FAST
            except (ImportError, SyntaxError, NotImplementedError, AttributeError, ValueError,
                    MemoryError):
                pass   # not copied to the board, or no room: the pure kernel does the job
        family = _families()[name]
        mod = __import__("upyflow.kernels_pure." + family, None, None, [family])
        return getattr(mod, name), PURE


def _fast(modname):
    # A fast tier, None if it cannot load. Viper: the kernels_viper package imports
    # only where the native emitter works; its kernels come family by family
    # (VIPER_FAMILIES), so the tier's own table is empty. Native: the module as
    # itself (its walker runs the ops).
    try:
        if modname == "viper":
            from . import kernels_viper   # noqa: F401
            return {}
        mod = __import__(modname)
        mod.kernel_index   # a native module without the op-table walker is too old
        return _Native(mod)
    except (ImportError, SyntaxError, NotImplementedError, AttributeError, ValueError, MemoryError):
        return None


class _Native:
    # The native module as a kernel table, without a dict of its ~50 kernels. Model
    # hands native ops to mod.run(); per-kernel callables (fn(args)) exist only in
    # the CPython extension (tests, profiling).
    def __init__(self, mod):
        self.mod = mod

    def __contains__(self, name):
        return self.mod.kernel_index(name) >= 0

    def __getitem__(self, name):
        return getattr(self.mod, name), FAST


def native_module(tier):
    """The native module whose walker runs a model's native ops on this tier, or None."""
    return _cache["native"].mod if tier == "native" and available("native") else None


_cache = {}


def available(tier):
    if tier not in _cache:
        if tier == "pure":
            _cache[tier] = {}
        elif tier == "viper":
            _cache[tier] = _fast("viper")
        elif tier == "native":
            _cache[tier] = _fast("upyflow_native")
        else:
            raise ValueError("unknown kernel tier %r; tiers are %s" % (tier, ", ".join(TIERS)))
    return _cache[tier] is not None


def table(tier):
    """(tier actually used, {name: (fn, convention)}) for a requested tier."""
    if tier not in TIERS:
        raise ValueError("unknown kernel tier %r; tiers are %s" % (tier, ", ".join(TIERS)))
    if not available(tier):
        raise ValueError("kernel tier %r is not available on this Python" % tier)
    overlays = {"pure": (), "viper": ("viper",), "native": ("native",)}[tier]
    return tier, _Kernels([_cache[t] for t in overlays if available(t)],
                          VIPER_FAMILIES if tier == "viper" else {})


def default_tier():
    """The UPYFLOW_TIER environment override, else the fastest tier that imports."""
    try:
        import os
        forced = os.getenv("UPYFLOW_TIER")
    except (ImportError, AttributeError):
        forced = None
    if forced:
        return forced
    for tier in TIERS:
        if available(tier):
            return tier
    return "pure"
