# A kernel module that does not import (dispatch.py): imported only then, so its code
# costs a board's heap only after a failure. MemoryError: no room for its machine
# code (on esp32 natmod and viper code go to executable RAM; README "ESP32 boards"),
# collected once and retried; ValueError: a .mpy this firmware cannot load;
# ImportError: not copied. Each says so in one printed line, once per run (not_loaded).


def _retry(name, fromlist, e):
    # The module after one collection if e was a MemoryError, else None.
    if isinstance(e, MemoryError):
        import gc
        gc.collect()
        try:
            return __import__(name, None, None, fromlist)
        except MemoryError:
            pass
    return None


def _why(e):
    msg = str(e)
    return type(e).__name__ + (": " + msg if msg else "")


def fast_tier(modname, e):
    # The native core after a retry, else None (its tier unavailable; viper or pure then).
    if modname == "viper":
        return None   # no native emitter, or its package not copied: pure serves
    mod = _retry(modname, (), e)
    if mod is not None and hasattr(mod, "kernel_index"):
        return mod
    if isinstance(e, (MemoryError, ValueError)):
        from .dispatch import available
        print("upyflow: native core (%s) not loaded (%s); using %s" % (
            modname, _why(e), "viper" if available("viper") else "pure"))
    return None


def native_family(family, e, not_loaded):
    # upyflow_native_<family> after a retry, else None: its kernels go to viper (pure).
    fam = _retry("upyflow_native_" + family, (), e)
    if fam is None:
        from .dispatch import VIPER_FAMILIES, available
        not_loaded[family] = why = _why(e)
        print("upyflow: native %s not loaded (%s); using %s" % (
            family, why, "viper" if family in VIPER_FAMILIES and available("viper") else "pure"))
    return fam


def viper_family(family, name, e, not_loaded):
    # Kernel name of viper family after a retry, else None (pure); no room says so.
    mod = _retry("upyflow.kernels_viper." + family, [family], e)
    if mod is not None:
        return getattr(mod, name)
    if isinstance(e, MemoryError):
        not_loaded["viper " + family] = why = _why(e)
        print("upyflow: viper %s not loaded (%s); using pure" % (family, why))
    return None
