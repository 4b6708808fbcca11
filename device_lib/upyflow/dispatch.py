# The one dispatch table: kernel name -> function, chosen once at import.
# Faster tiers (native, viper) register the same names over the pure ones.

from .kernels_pure import fc, conv, pool, softmax, quantize

KERNELS = {}
TIER = "pure"

for _mod in (fc, conv, pool, softmax, quantize):
    for _name in _mod.KERNELS:
        KERNELS[_name] = getattr(_mod, _name)


def kernel(name):
    try:
        return KERNELS[name]
    except KeyError:
        raise ValueError("kernel %s is not in this runtime (tier %s)" % (name, TIER))
