# Viper camera frame -> model input, byte-identical to kernels_pure/image.py (see
# there for the arguments), called with them positionally (upyflow.image);
# the row/column tables are array('i') made by upyflow.image, so word-aligned.
# Every blend stays within int32: Q20 weights on 0..255 values.
import micropython

KERNELS = ("image_to_input",)


# spec: image_to_input {
@micropython.viper
def image_to_input(frame: ptr8, ytab: ptr32, xtab: ptr32, lut: ptr8, out: ptr8, fmt: int, in_w: int, in_h: int,
                   out_h: int, out_w: int, out_c: int, bilinear: int, esize: int):
# }
    corners = 4 if bilinear else 1
    k = 0
    for oy in range(out_h):
        r0 = ytab[3 * oy] * in_w
        r1 = ytab[3 * oy + 1] * in_w
        fy = ytab[3 * oy + 2]
        for ox in range(out_w):
            c0 = xtab[3 * ox]
            c1 = xtab[3 * ox + 1]
            fx = xtab[3 * ox + 2]
            a0 = 0
            a1 = 0
            a2 = 0
            for j in range(corners):
                w = 1 << 20
                if bilinear:
                    w = (fy if j & 2 else 1024 - fy) * (fx if j & 1 else 1024 - fx)
                i = (r1 if j & 2 else r0) + (c1 if j & 1 else c0)
                if fmt == 0:
                    r = frame[i]
                    g = r
                    b = r
                elif fmt == 3:
                    r = frame[3 * i]
                    g = frame[3 * i + 1]
                    b = frame[3 * i + 2]
                else:
                    if fmt == 1:
                        p = frame[2 * i] | (frame[2 * i + 1] << 8)
                    else:
                        p = (frame[2 * i] << 8) | frame[2 * i + 1]
                    r = p >> 11
                    g = (p >> 5) & 63
                    b = p & 31
                    r = (r << 3) | (r >> 2)
                    g = (g << 2) | (g >> 4)
                    b = (b << 3) | (b >> 2)
                if out_c == 1:
                    if fmt != 0:
                        r = (77 * r + 150 * g + 29 * b + 128) >> 8
                    a0 += w * r
                else:
                    a0 += w * r
                    a1 += w * g
                    a2 += w * b
            for ch in range(out_c):
                a = a0
                if ch == 1:
                    a = a1
                elif ch == 2:
                    a = a2
                v = ((a + (1 << 19)) >> 20) * esize
                for e in range(esize):
                    out[k] = lut[v + e]
                    k += 1
