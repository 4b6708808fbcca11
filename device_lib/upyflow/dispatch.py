# The one dispatch table: kernel name -> (function, convention), built once per
# tier. Tiers overlay each other: pure has every kernel; viper and native
# replace the ones they implement with the same names.
#
# Conventions: PURE kernels are called fn(*args) with typed views (signed,
# indexable); FAST kernels (viper, native C) are called fn(args) with one tuple
# holding raw byte memoryviews then the integer/float parameters, so invoke()
# makes no allocation and viper's 4-argument limit does not bite.

from .kernels_pure import fc, conv, pool, softmax, quantize

PURE = 0
FAST = 1
TIERS = ("native", "viper", "pure")


def _pure():
    table = {}
    for mod in (fc, conv, pool, softmax, quantize):
        for name in mod.KERNELS:
            table[name] = (getattr(mod, name), PURE)
    return table


def _fast(modname):
    # A fast tier is a module with KERNELS = (names...); None if it cannot load.
    try:
        if modname == "viper":
            from . import kernels_viper as mod
        else:
            mod = __import__(modname)
    except (ImportError, SyntaxError, NotImplementedError, AttributeError, ValueError):
        return None
    return dict((name, (getattr(mod, name), FAST)) for name in mod.KERNELS)


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
    kernels = _pure()
    overlays = {"pure": (), "viper": ("viper",), "native": ("viper", "native")}[tier]
    for t in overlays:
        if available(t):
            kernels.update(_cache[t])
    return tier, kernels


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
