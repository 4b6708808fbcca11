# Camera frame -> a model's input, on the board. Crop, resize (nearest or
# bilinear), RGB565/RGB888/gray8 to the model's gray or RGB, normalise and
# quantize, written straight into m.input_buffer(i) in one pass:
#
#     from upyflow import image
#     prep = image.Preprocessor(m, 160, 120, "rgb565be")   # once per geometry
#     prep(frame)          # per frame: no allocation (native and viper tiers)
#     m.invoke()
#
# or image.to_input(m, frame, 160, 120, ...) which keeps the last Preprocessor.
#
# Formats: "gray8"; "rgb565" = "rgb565le" (each pixel's low byte first: a 16-bit
# word as a little-endian board, framebuf.RGB565 and array('H') hold it);
# "rgb565be" (high byte first, as OV7670/OV2640 modules send it over the bus and
# esp32-camera stores it); "rgb888" (r, g, b bytes). Gray from colour is BT.601
# luma, (77 r + 150 g + 29 b + 128) >> 8; 5/6-bit fields widen by repeating their
# top bits (31 -> 255).
#
# Geometry: crop=(x, y, w, h) in frame pixels (default: the whole frame) is
# stretched to the model's input size. Pixel centres are aligned (OpenCV's
# INTER_LINEAR, TF's half_pixel_centers): output pixel o samples source
# (o + 0.5) * w / out - 0.5, clamped to the crop; bilinear weights are Q10.
#
# normalise: how a pixel p in 0..255 becomes the model's real input value, which
# is then quantized with the model's input scale and zero point (round half
# away from zero, clamped), or stored as is for a float32 input:
#   "unit"      p / 255, 0..1 (the default: most image models)
#   "symmetric" p / 127.5 - 1, -1..1 (MobileNet-style)
#   "raw"       p, 0..255
#   "direct"    no scale: int8 inputs get p - 128, uint8 get p (TFLM's camera
#               examples for person_detect; "symmetric" is within one step of it)
#   (mul, add)  p * mul + add
from array import array

FORMATS = {"gray8": 0, "rgb565": 1, "rgb565le": 1, "rgb565be": 2, "rgb888": 3}
_BPP = (1, 2, 2, 3)
NORMALISE = {"unit": (1 / 255, 0.0), "symmetric": (1 / 127.5, -1.0), "raw": (1.0, 0.0)}


def _axis(start, size, n, bilinear):
    # (first, second, Q10 weight of second) per output index, in integers so every
    # Python (single-precision boards too) gets the same table
    t = array("i", bytes(12 * n))
    last = start + size - 1
    for o in range(n):
        if bilinear:
            num = (2 * o + 1) * size - n   # 2n * (source position - start)
            a, f = 0, 0
            if num > 0:
                a, rem = num // (2 * n), num % (2 * n)
                f = (rem * 1024 + n) // (2 * n)
                if f == 1024:
                    a, f = a + 1, 0
            a += start
            if a >= last:
                a, f = last, 0
            b = min(a + 1, last)
        else:
            a = b = start + (2 * o + 1) * size // (2 * n)
            f = 0
        t[3 * o], t[3 * o + 1], t[3 * o + 2] = a, b, f
    return t


def _lut(dtype, scale, zp, normalise):
    if normalise == "direct":
        if dtype == "f32":
            raise ValueError("normalise 'direct' needs an int8 or uint8 input, not float32")
        return bytes((p - 128) & 0xFF for p in range(256)) if dtype == "i8" else bytes(range(256))
    if isinstance(normalise, str):
        if normalise not in NORMALISE:
            raise ValueError("unknown normalise %r; use %s, 'direct' or (mul, add)"
                             % (normalise, ", ".join(NORMALISE)))
        normalise = NORMALISE[normalise]
    mul, add = normalise
    if dtype == "f32":
        return array("f", [p * mul + add for p in range(256)])   # word-aligned for native
    lo, hi = (-128, 127) if dtype == "i8" else (0, 255)
    out = bytearray(256)
    for p in range(256):
        q = (p * mul + add) / scale
        q = (int(q + 0.5) if q >= 0 else -int(-q + 0.5)) + zp
        out[p] = min(max(q, lo), hi) & 0xFF
    return bytes(out)


def _kernel(tier):
    # (tier, fn, via, index): the image kernel of the requested tier or the fastest that
    # loads; via 0: fn(*args) (pure, viper), 1: fn(args) (CPython extension),
    # 2: fn(index, args) (the natmod's call)
    from . import dispatch
    order = dispatch.TIERS
    tier = tier or dispatch.default_tier()   # UPYFLOW_TIER, as for models
    if tier not in order:
        raise ValueError("unknown kernel tier %r; tiers are %s" % (tier, ", ".join(order)))
    order = order[order.index(tier):]   # that tier, else the next slower one
    for t in order:
        try:
            if t == "native" and dispatch.available("native"):
                mod = dispatch.native_module("native")
                idx = dispatch.native_index(mod, "image_to_input")
                if idx >= 0:
                    if hasattr(mod, "call"):
                        return t, mod.call, 2, idx     # MicroPython natmod
                    return t, getattr(mod, "image_to_input"), 1, 0   # CPython extension
            elif t == "viper":
                from .kernels_viper.image import image_to_input
                return t, image_to_input, 0, 0
            elif t == "pure":
                from .kernels_pure.image import image_to_input
                return t, image_to_input, 0, 0
        except (ImportError, SyntaxError, NotImplementedError, AttributeError, MemoryError):
            pass
    raise ValueError("no image kernel tier available")


class Preprocessor:
    """Turns width x height frames of format fmt into model m's input `input`.

    Tables, the 256-entry value table and the kernel's argument list are made
    here once; calling it with a frame runs one kernel call. `tier` forces a
    kernel tier (default: the fastest that loads; self.tier says which)."""

    def __init__(self, m, width, height, fmt="rgb565", crop=None, resize="bilinear",
                 normalise="unit", input=0, tier=None):
        if fmt not in FORMATS:
            raise ValueError("unknown frame format %r; formats are %s" % (fmt, ", ".join(sorted(FORMATS))))
        if resize not in ("nearest", "bilinear"):
            raise ValueError("resize must be 'nearest' or 'bilinear', not %r" % (resize,))
        if width < 1 or height < 1:
            raise ValueError("frame size must be positive, got %dx%d" % (width, height))
        x, y, w, h = crop or (0, 0, width, height)
        if x < 0 or y < 0 or w < 1 or h < 1 or x + w > width or y + h > height:
            raise ValueError("crop %r lies outside the %dx%d frame" % (crop, width, height))
        shape = m.input_shape[input]
        if len(shape) == 3:
            shape = shape + [1]
        dtype = m.input_dtype[input]
        if len(shape) != 4 or shape[0] != 1 or shape[3] not in (1, 3) or dtype not in ("i8", "u8", "f32"):
            raise ValueError("input %d (%s %s) is not an image: need int8/uint8/float32 [1, H, W, 1 or 3]"
                             % (input, dtype, shape))
        out_h, out_w, out_c = shape[1], shape[2], shape[3]
        bil = resize == "bilinear"
        esize = 4 if dtype == "f32" else 1
        self.size = width * height * _BPP[FORMATS[fmt]]
        self.out = m.input_buffer(input)
        lut = _lut(dtype, m.input_scale[input], m.input_zero_point[input], normalise)
        self.tier, self._fn, self._via, self._index = _kernel(tier)
        if esize == 4 and self.tier == "pure":
            lut = bytes(lut)   # the pure kernel copies bytes
        self._args = [None, _axis(y, h, out_h, bil), _axis(x, w, out_w, bil), lut, self.out,
                      FORMATS[fmt], width, height, out_h, out_w, out_c, int(bil), esize]

    def __call__(self, frame):
        if len(frame) != self.size:
            raise ValueError("frame has %d bytes, expected %d" % (len(frame), self.size))
        a = self._args
        a[0] = frame
        via = self._via
        if via == 0:
            self._fn(*a)
        elif via == 1:
            self._fn(tuple(a))
        else:
            self._fn(self._index, a)
        a[0] = None   # do not keep the frame alive


_last = [None, None, None]   # key, Preprocessor, model (held: an id could be reused)


def to_input(m, frame, width, height, fmt="rgb565", crop=None, resize="bilinear", normalise="unit",
             input=0, tier=None):
    """Write frame into m's input (see Preprocessor); reuses the last geometry's tables."""
    key = (width, height, fmt, crop, resize, normalise, input, tier)
    if _last[2] is not m or _last[0] != key:
        _last[1] = Preprocessor(m, width, height, fmt, crop, resize, normalise, input, tier)
        _last[0], _last[2] = key, m
    _last[1](frame)
