# Data movement for CONCATENATION, PAD, STRIDED_SLICE, TRANSPOSE: one strided
# copy driven by a baked int32 descriptor [nd, x_off, o_off, shape..., x
# strides..., out strides...] (element units), a fill for PAD's border, and a
# byte copy for layout-only ops that cannot alias their input; SELECT's element pick.
# esize (bytes per element) is for the native tier; typed views know it.

KERNELS = ("strided_copy", "fill_int", "fill_f32", "copy_bytes", "select_elems")


def _copy(x, out, d, nd, k, xo, oo):
    n = d[3 + k]
    xs = d[3 + nd + k]
    os_ = d[3 + 2 * nd + k]
    if k == nd - 1:
        for _ in range(n):
            out[oo] = x[xo]
            xo += xs
            oo += os_
        return
    for _ in range(n):
        _copy(x, out, d, nd, k + 1, xo, oo)
        xo += xs
        oo += os_


def strided_copy(x, out, d, esize):
    _copy(x, out, d, d[0], 0, d[1], d[2])


def fill_int(out, n, value):
    for i in range(n):
        out[i] = value


fill_f32 = fill_int


def copy_bytes(x, out, n):
    for i in range(n):
        out[i] = x[i]


def select_elems(c, x, out, n, esize):
    # out[i] = x[i] where c[i] is set; elsewhere out keeps the other operand
    for i in range(n):
        if c[i]:
            out[i] = x[i]
