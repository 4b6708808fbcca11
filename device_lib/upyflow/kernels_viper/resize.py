# Viper RESIZE_NEAREST_NEIGHBOR (any element size) and RESIZE_BILINEAR int8,
# byte-identical to kernels_pure/resize.py. The 32-bit rules of __init__.py apply:
# the int32 tables are read byte by byte (a baked constant need not be
# word-aligned) and every blend stays within int32 (10-bit weights in [-512, 1536],
# int8 values).
import micropython

KERNELS = ("resize_nearest", "resize_bilinear_s8")


# spec: resize_nearest {
@micropython.viper
def resize_nearest(x: ptr8, ymap: ptr8, xmap: ptr8, out: ptr8, in_h: int, in_w: int, out_h: int, out_w: int,
                   depth: int, esize: int):
# }
    pixel = depth * esize   # depth * element size, in bytes
    o = 0
    for oy in range(out_h):
        k = 4 * oy   # table entries are small and non-negative: three bytes suffice
        row = (ymap[k] | (ymap[k + 1] << 8) | (ymap[k + 2] << 16)) * in_w
        for ox in range(out_w):
            k = 4 * ox
            i = (row + (xmap[k] | (xmap[k + 1] << 8) | (xmap[k + 2] << 16))) * pixel
            for c in range(pixel):
                out[o + c] = x[i + c]
            o += pixel


@micropython.viper
def _entry(p: ptr8, k: int) -> int:
    # one int32 table entry from its four bytes, sign-extended from the top byte
    return p[k] | (p[k + 1] << 8) | (p[k + 2] << 16) | (((p[k + 3] ^ 0x80) - 0x80) << 24)


# spec: resize_bilinear_s8 {
@micropython.viper
def resize_bilinear_s8(x: ptr8, ytab: ptr8, xtab: ptr8, out: ptr8, in_h: int, in_w: int, out_h: int, out_w: int,
                       depth: int):
# }
    o = 0
    for oy in range(out_h):
        r0 = int(_entry(ytab, 12 * oy)) * in_w
        r1 = int(_entry(ytab, 12 * oy + 4)) * in_w
        fy = int(_entry(ytab, 12 * oy + 8))
        gy = 1024 - fy
        for ox in range(out_w):
            x0 = int(_entry(xtab, 12 * ox))
            x1 = int(_entry(xtab, 12 * ox + 4))
            fx = int(_entry(xtab, 12 * ox + 8))
            gx = 1024 - fx
            w00 = gy * gx
            w10 = fy * gx
            w01 = gy * fx
            w11 = fy * fx
            a = (r0 + x0) * depth
            b = (r1 + x0) * depth
            c1 = (r0 + x1) * depth
            d = (r1 + x1) * depth
            for c in range(depth):
                v = (((x[a + c] ^ 0x80) - 0x80) * w00 + ((x[b + c] ^ 0x80) - 0x80) * w10
                     + ((x[c1 + c] ^ 0x80) - 0x80) * w01 + ((x[d + c] ^ 0x80) - 0x80) * w11)
                if v > 0:
                    v = (v + 524288) >> 20
                else:
                    v = 0 - ((524288 - v) >> 20)
                out[o + c] = v & 0xFF
            o += depth
