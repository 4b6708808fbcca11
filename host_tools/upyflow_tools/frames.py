"""Camera frames on the host: the numpy derivation of what upyflow.image writes into a
model's input (the reference its tests and the person_detection example check the board
against), and a deterministic test frame made from a grayscale image."""
from __future__ import annotations

from fractions import Fraction
from math import floor

import numpy as np

NORMALISE = {"unit": (1 / 255, 0.0), "symmetric": (1 / 127.5, -1.0), "raw": (1.0, 0.0)}
BPP = {"gray8": 1, "rgb565": 2, "rgb565le": 2, "rgb565be": 2, "rgb888": 3}


def decode(frame: bytes, fmt: str, w: int, h: int) -> np.ndarray:
    """A frame as (h, w, 3) int64 RGB888."""
    if fmt == "gray8":
        return np.repeat(np.frombuffer(frame, np.uint8).reshape(h, w, 1), 3, axis=2).astype(np.int64)
    if fmt == "rgb888":
        return np.frombuffer(frame, np.uint8).reshape(h, w, 3).astype(np.int64)
    px = np.frombuffer(frame, ">u2" if fmt == "rgb565be" else "<u2").reshape(h, w).astype(np.int64)
    r, g, b = px >> 11, (px >> 5) & 0x3F, px & 0x1F
    # 5/6 bits scaled to 0..255 with the top bits repeated below
    return np.stack([r * 8 + r // 4, g * 4 + g // 16, b * 8 + b // 4], axis=2)


def coords(start: int, size: int, n: int, bilinear: bool) -> np.ndarray:
    """Per output index: (first, second source index, weight of the second in 1/1024), from
    exact fractions: output pixel o's centre is source start + (o + 1/2) * size / n."""
    last = start + size - 1
    res = []
    for o in range(n):
        s = start + Fraction(2 * o + 1, 2) * size / n
        if not bilinear:
            res.append((floor(s), floor(s), 0))
            continue
        s = min(max(s - Fraction(1, 2), Fraction(start)), Fraction(last))
        a = floor(s)
        f = floor((s - a) * 1024 + Fraction(1, 2))
        if f == 1024:
            a, f = a + 1, 0
        res.append((a, min(a + 1, last), f))
    return np.array(res, np.int64)


def to_input(frame: bytes, fmt: str, width: int, height: int, out_h: int, out_w: int, channels: int,
             dtype: str, scale: float = 1.0, zero_point: int = 0, crop=None, resize: str = "bilinear",
             normalise="unit") -> bytes:
    """The model input bytes upyflow.image.to_input gives (dtype 'i8', 'u8' or 'f32')."""
    rgb = decode(frame, fmt, width, height)
    if channels == 1:
        img = rgb[:, :, :1] if fmt == "gray8" else \
            ((77 * rgb[:, :, 0] + 150 * rgb[:, :, 1] + 29 * rgb[:, :, 2] + 128) >> 8)[:, :, None]
    else:
        img = rgb
    x, y, w, h = crop or (0, 0, width, height)
    bil = resize == "bilinear"
    ys, xs = coords(y, h, out_h, bil), coords(x, w, out_w, bil)
    fy, fx = ys[:, 2][:, None, None], xs[:, 2][None, :, None]
    tl, tr = img[ys[:, 0]][:, xs[:, 0]], img[ys[:, 0]][:, xs[:, 1]]
    bl, br = img[ys[:, 1]][:, xs[:, 0]], img[ys[:, 1]][:, xs[:, 1]]
    v = (tl * (1024 - fx) * (1024 - fy) + tr * fx * (1024 - fy) + bl * (1024 - fx) * fy + br * fx * fy
         + (1 << 19)) >> 20
    if normalise == "direct":
        return (v - 128 if dtype == "i8" else v).astype(np.int8 if dtype == "i8" else np.uint8).tobytes()
    mul, add = NORMALISE[normalise] if isinstance(normalise, str) else normalise
    real = v * mul + add
    if dtype == "f32":
        return real.astype(np.float32).tobytes()
    q = real / scale
    q = np.where(q >= 0, np.floor(q + 0.5), -np.floor(-q + 0.5)) + zero_point   # half away from zero
    lo, hi = (-128, 127) if dtype == "i8" else (0, 255)
    return np.clip(q, lo, hi).astype(np.int64).astype(np.int8 if dtype == "i8" else np.uint8).tobytes()


def frame_from_gray(gray: np.ndarray, width: int = 160, height: int = 120, fmt: str = "rgb565be") -> bytes:
    """A deterministic colour test frame: the (n, n) uint8 image scaled (nearest, pixel
    centres aligned, so a nearest resize of the square back to n x n gives the image
    again) to a height x height square, tinted warm (luma within a step of the gray
    value), centred on a blue-green gradient background."""
    n = gray.shape[0]
    idx = (2 * np.arange(height) + 1) * n // (2 * height)
    sq = gray[idx][:, idx].astype(np.int64)
    bg = np.add.outer(np.arange(height) * 2, np.arange(width)) % 256
    rgb = np.stack([bg // 4, bg // 2, 255 - bg], axis=2)
    left = (width - height) // 2
    rgb[:, left:left + height] = np.clip(np.stack([sq + 16, sq - 4, sq - 24], axis=2), 0, 255)
    if fmt == "rgb888":
        return rgb.astype(np.uint8).tobytes()
    px = ((rgb[:, :, 0] >> 3) << 11) | ((rgb[:, :, 1] >> 2) << 5) | (rgb[:, :, 2] >> 3)
    return px.astype(">u2" if fmt == "rgb565be" else "<u2").tobytes()
