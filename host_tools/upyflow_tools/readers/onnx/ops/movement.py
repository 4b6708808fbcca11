"""Data movement: Split (SPLIT_V on the stored axis), DepthToSpace (DEPTH_TO_SPACE; CRD
mode after a TRANSPOSE of the channels) and Gather of a computed tensor at constant indices
(GATHER on the stored axis; int8 bytes of a DequantizeLinear output are gathered as they are)."""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..checks import attrs
from ..layout import plain, spatial_in
from ..registry import translator
from ..state import Reader
from ..values import NHWC, Val


@translator("Split")
def split(r: Reader, node) -> None:
    a = attrs(node)
    v = plain(r, r.rt(node, 0))
    rank = len(v.shape)
    ax = a.get("axis", 0)
    if not -rank <= ax < rank:
        raise BakeError("Split node %r: axis %d for a %d-D input" % (node.name, ax, rank))
    ax %= rank
    n_out, length = len(node.output), v.shape[ax]
    spec = a.get("split") if r.opset < 13 else r.cval(node, 1, "split")
    if spec is not None and np.size(spec) > 0:
        sizes = [int(s) for s in np.asarray(spec).reshape(-1)]
    else:
        n = int(a.get("num_outputs", n_out))
        if n != n_out:
            raise BakeError("Split node %r: num_outputs %d for %d outputs" % (node.name, n, n_out))
        part = -(-length // max(n, 1))   # ONNX: equal parts, the last one smaller
        sizes = [min(part, length - k * part) for k in range(n)]
    if len(sizes) != n_out or sum(sizes) != length or min(sizes) < 1:
        raise BakeError("Split node %r: sizes %s for %d outputs of axis %d (length %d)"
                        % (node.name, sizes, n_out, ax, length))
    outs = []
    for name, n in zip(node.output, sizes):
        shape = tuple(n if k == ax else d for k, d in enumerate(v.shape))
        outs.append((name, shape, r.like(name, v.t, tuple(shape[p] for p in v.perm))))
    if n_out == 1:
        r.set(node.output[0], v)
        return
    r.op("SPLIT_V", [v.t, r.i32(node.output[0] + "/sizes", sizes), r.i32(node.output[0] + "/axis",
                                                                        [v.perm.index(ax)])],
         [t for _, _, t in outs], num_splits=n_out)
    for name, shape, t in outs:
        r.set(name, Val(t, shape, shape, v.perm, v.deq))


@translator("DepthToSpace")
def depth_to_space(r: Reader, node) -> None:
    a = attrs(node)
    mode = a.get("mode", b"DCR")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode not in ("DCR", "CRD"):
        raise BakeError("DepthToSpace node %r: mode %s is not supported (DCR, CRD)" % (node.name, mode))
    v = r.rt(node, 0)
    x = spatial_in(r, node, v)
    b = int(a.get("blocksize", 0))
    _, c, h, w = x.shape
    if b < 1 or c % (b * b) or len(v.shape) != 4:
        raise BakeError("DepthToSpace node %r: blocksize %d for input %s" % (node.name, b, list(v.shape)))
    src = x.t
    if mode == "CRD":   # (PyTorch's PixelShuffle) channels c*b*b + k to DCR's k*C + c: one TRANSPOSE
        co, name = c // (b * b), node.output[0]
        flat = r.like(name + "/crd", src, (1, h * w, co, b * b))
        r.op("RESHAPE", [src, r.i32(name + "/crd_shape", [1, h * w, co, b * b])], [flat])
        moved = r.like(name + "/dcr", src, (1, h * w, b * b, co))
        r.op("TRANSPOSE", [flat, r.i32(name + "/dcr_perm", [0, 1, 3, 2])], [moved])
        src = r.like(name + "/dcr_nhwc", src, (1, h, w, c))
        r.op("RESHAPE", [moved, r.i32(name + "/dcr_shape", [1, h, w, c])], [src])
    out = r.like(node.output[0], x.t, (1, h * b, w * b, c // (b * b)))
    r.op("DEPTH_TO_SPACE", [src], [out], block_size=b)
    logical = (1, c // (b * b), h * b, w * b)
    r.set(node.output[0], Val(out, logical, logical, NHWC, x.deq))


@translator("Gather")
def gather(r: Reader, node) -> None:
    v = plain(r, r.rt(node, 0))
    if r.tensors[v.t].dtype not in ("f32", "i8"):
        raise BakeError("Gather node %r: %s data is not supported (float32 or quantized int8)"
                        % (node.name, r.tensors[v.t].dtype))
    idx = np.asarray(r.cval(node, 1, "indices"))
    rank = len(v.shape)
    ax = int(attrs(node).get("axis", 0))
    if not -rank <= ax < rank or idx.dtype.kind not in "iu":
        raise BakeError("Gather node %r: axis %d or %s indices for a %d-D input" % (node.name, ax, idx.dtype, rank))
    ax %= rank
    n = v.shape[ax]
    if idx.size == 0 or np.any(idx < -n) or np.any(idx >= n):
        raise BakeError("Gather node %r: indices outside [-%d, %d)" % (node.name, n, n))
    idx = np.where(idx < 0, idx + n, idx).astype(np.int32)
    # gathered as a flat index list on the stored axis; the ONNX shape is a reshape of that
    base = v.shape[:ax] + (idx.size,) + v.shape[ax + 1:]
    out = r.like(node.output[0], v.t, tuple(base[p] for p in v.perm))
    r.op("GATHER", [v.t, r.i32(node.output[0] + "/indices", idx.reshape(-1))], [out], axis=v.perm.index(ax),
         batch_dims=0)
    r.set(node.output[0], Val(out, v.shape[:ax] + idx.shape + v.shape[ax + 1:], base, v.perm, v.deq))
