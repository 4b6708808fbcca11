"""Values of ONNX names while reading, and storage-order arithmetic.

A computed tensor keeps its ONNX (logical) shape plus how its bytes are ordered:
storage = base.transpose(perm), where `base` is a shape the logical shape is a reshape of.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NHWC = (0, 2, 3, 1)
NLC = (0, 2, 1)


@dataclass
class Val:
    """A computed tensor: ir tensor `t`, ONNX shape, storage order = base.transpose(perm)."""
    t: int
    shape: tuple
    base: tuple
    perm: tuple
    deq: bool = False      # a DequantizeLinear output: logically float, int8 bytes


@dataclass
class QConst:
    """A DequantizeLinear of an initializer: integer data, scale(s), zero point(s), axis."""
    q: np.ndarray
    scale: np.ndarray
    zp: np.ndarray
    axis: int

    def value(self) -> np.ndarray:
        shape = [1] * self.q.ndim
        if self.scale.size > 1:
            shape[self.axis] = -1
        return ((self.q.astype(np.float32) - self.zp.astype(np.float32).reshape(shape))
                * self.scale.astype(np.float32).reshape(shape)).astype(np.float32)


def order(shape, perm) -> np.ndarray:
    """Storage position -> row-major index of the logical tensor."""
    n = int(np.prod(shape, dtype=np.int64))
    return np.arange(n).reshape(shape).transpose(perm).ravel()


def same_order(a, pa, b, pb) -> bool:
    """order(a, pa) == order(b, pb) without building them (10 M-value layouts took seconds):
    both as storage dimensions (size, row-major stride), size-1 ones dropped and neighbours
    that step as one merged."""
    def canon(shape, perm) -> list[tuple[int, int]]:
        strides = [1] * len(shape)
        for i in range(len(shape) - 2, -1, -1):
            strides[i] = strides[i + 1] * int(shape[i + 1])
        out: list[tuple[int, int]] = []
        for p in perm:
            size, stride = int(shape[p]), strides[p]
            if size == 1:
                continue
            if out and out[-1][1] == size * stride:
                out[-1] = (out[-1][0] * size, stride)
            else:
                out.append((size, stride))
        return out
    return count(a) == count(b) and canon(a, pa) == canon(b, pb)


def count(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def ident(rank: int) -> tuple:
    return tuple(range(rank))


def inv(perm) -> tuple:
    return tuple(int(i) for i in np.argsort(perm))
