# Camera frame -> model input, the reference for native image.c and viper
# kernels_viper/image.py (same arguments, byte-identical). Not a model op:
# upyflow.image calls it with tables it computes once per geometry.
#   frame  gray8 / RGB565 (fmt 1: low byte first, 2: high byte first) / RGB888 bytes
#   ytab, xtab  int32 triples (first source row/column, second, Q10 weight of the second)
#   lut    256 entries of esize bytes: the model's input bytes for pixel value 0..255
#   out    the model's input bytes (out_h x out_w x out_c, HWC)
KERNELS = ("image_to_input",)


_acc = [0, 0, 0]


def image_to_input(frame, ytab, xtab, lut, out, fmt, in_w, in_h, out_h, out_w, out_c, bilinear, esize):
    # no tuples per pixel; one scratch list for the module
    f = frame
    acc = _acc
    k = 0
    corners = 4 if bilinear else 1
    for oy in range(out_h):
        r0, r1, fy = ytab[3 * oy] * in_w, ytab[3 * oy + 1] * in_w, ytab[3 * oy + 2]
        for ox in range(out_w):
            c0, c1, fx = xtab[3 * ox], xtab[3 * ox + 1], xtab[3 * ox + 2]
            acc[0] = acc[1] = acc[2] = 0
            # corners with their Q20 weights; nearest takes the first only, at full weight
            for j in range(corners):
                w = ((fy if j & 2 else 1024 - fy) * (fx if j & 1 else 1024 - fx)) if bilinear else 1 << 20
                i = (r1 if j & 2 else r0) + (c1 if j & 1 else c0)
                if fmt == 0:
                    r = g = b = f[i]
                elif fmt == 3:
                    r, g, b = f[3 * i], f[3 * i + 1], f[3 * i + 2]
                else:
                    p = (f[2 * i] | (f[2 * i + 1] << 8)) if fmt == 1 else ((f[2 * i] << 8) | f[2 * i + 1])
                    # 5/6-bit fields widened to 8 bits by repeating their top bits
                    r, g, b = p >> 11, (p >> 5) & 63, p & 31
                    r, g, b = (r << 3) | (r >> 2), (g << 2) | (g >> 4), (b << 3) | (b >> 2)
                if out_c == 1:
                    # BT.601 luma in integers (weights sum to 256): gray stays itself
                    acc[0] += w * (r if fmt == 0 else (77 * r + 150 * g + 29 * b + 128) >> 8)
                else:
                    acc[0] += w * r
                    acc[1] += w * g
                    acc[2] += w * b
            for ch in range(out_c):
                v = ((acc[ch] + (1 << 19)) >> 20) * esize
                for e in range(esize):
                    out[k] = lut[v + e]
                    k += 1
