"""Sparse constant tensors (TFLite SparsityParameters): densified when the model is read.

The schema (schema.fbs, SparsityParameters) stores a tensor of n dimensions, optionally cut
into k-dimensional blocks, as a traversal of n + k "expanded" dimensions: the first n count
the blocks along each original dimension (the dimension itself when it is not blocked), the
last k are the dimensions inside a block (block_map[j]: the original dimension block
dimension n + j divides). traversal_order lists the order the expanded dimensions are
walked in, and dim_metadata describes each level of that walk: DENSE (every index
0..dense_size-1) or SPARSE_CSR (array_segments[p]..array_segments[p + 1] of array_indices
are the indices present below position p of the level above, as CSR's row pointers and
column indices). A DENSE child of position p is at position p * size + i, a CSR child at
its place in array_indices. The buffer holds the values of the positions the walk reaches
at its last level, in walk order; every other element is 0.
"""
from __future__ import annotations

import numpy as np
import tflite

from .. import BakeError

_INDEX_VECTORS = {tflite.SparseIndexVector.Int32Vector: tflite.Int32Vector,
                  tflite.SparseIndexVector.Uint16Vector: tflite.Uint16Vector,
                  tflite.SparseIndexVector.Uint8Vector: tflite.Uint8Vector}
# Densified bytes at most: a few stored bytes can describe a huge all-zero tensor, and no
# board holds more than this anyway.
MAX_BYTES = 1 << 28


def read_sparsity(sp) -> dict:
    """A tflite.SparsityParameters table as plain lists: traversal_order, block_map and
    dim_metadata [(format 'DENSE'/'SPARSE_CSR', dense_size, segments, indices)]."""
    levels = []
    for i in range(sp.DimMetadataLength()):
        m = sp.DimMetadata(i)
        fmt = {tflite.DimensionType.DENSE: "DENSE", tflite.DimensionType.SPARSE_CSR: "SPARSE_CSR"}.get(
            m.Format(), "format %d" % m.Format())
        levels.append((fmt, int(m.DenseSize()), _index_vector(m.ArraySegmentsType(), m.ArraySegments()),
                       _index_vector(m.ArrayIndicesType(), m.ArrayIndices())))
    return dict(traversal_order=[int(v) for v in sp.TraversalOrderAsNumpy()] if sp.TraversalOrderLength() else [],
                block_map=[int(v) for v in sp.BlockMapAsNumpy()] if sp.BlockMapLength() else [],
                dim_metadata=levels)


def _index_vector(kind: int, table) -> np.ndarray | None:
    cls = _INDEX_VECTORS.get(kind)
    if cls is None or table is None:
        return None
    vec = cls()
    vec.Init(table.Bytes, table.Pos)
    return np.asarray(vec.ValuesAsNumpy() if vec.ValuesLength() else [], np.int64)


def densify(values: np.ndarray, shape: tuple[int, ...], sp: dict, name: str) -> np.ndarray:
    """The dense tensor of `shape` that sparse `values` (1-D, the buffer) and `sp` encode;
    BakeError naming the tensor on any inconsistency (a damaged model)."""
    def bad(why: str) -> BakeError:
        return BakeError("sparse tensor %r: %s (a damaged model)" % (name, why))
    n = len(shape)
    order, block_map, levels = sp["traversal_order"], sp["block_map"], sp["dim_metadata"]
    k = len(order) - n
    if not 0 <= k <= n or sorted(order) != list(range(n + k)) or sorted(order[:n]) != list(range(n)):
        raise bad("traversal order %s for %d dimensions" % (order, n))
    if len(block_map) != k or sorted(set(block_map)) != sorted(block_map) or any(not 0 <= d < n for d in block_map):
        raise bad("block map %s for %d block dimensions" % (block_map, k))
    if len(levels) != n + k:
        raise bad("%d dimension metadata for a traversal of %d" % (len(levels), n + k))
    level_of = {dim: lvl for lvl, dim in enumerate(order)}
    size = [0] * (n + k)              # of every expanded dimension
    for j, d in enumerate(block_map):
        fmt, b = levels[level_of[n + j]][:2]
        if fmt != "DENSE" or b < 1 or shape[d] % b:
            raise bad("block dimension %d of size %d (%s) does not divide dimension %d of size %d"
                      % (n + j, b, fmt, d, shape[d]))
        size[n + j], size[d] = b, shape[d] // b
    for d in range(n):
        if d not in block_map:
            size[d] = shape[d]
    total = int(np.prod(shape, dtype=np.int64))
    if total * values.dtype.itemsize > MAX_BYTES:
        raise BakeError("sparse tensor %r has shape %s (%d bytes dense); upyflow densifies at most %d MiB"
                        % (name, list(shape), total * values.dtype.itemsize, MAX_BYTES >> 20))
    coords = np.zeros((1, 0), np.int64)   # one row per position of the current level
    for lvl, (fmt, dense_size, segments, indices) in enumerate(levels):
        s = size[order[lvl]]
        if fmt == "DENSE":
            if dense_size != s:
                raise bad("dense size %d at level %d where the dimension has %d" % (dense_size, lvl, s))
            # the positions this level makes are bounded by what the file stores, checked before
            # they are made: the next CSR level's segments, else the values
            after = len(coords) * s
            nxt = next((m for m in range(lvl + 1, n + k) if levels[m][0] != "DENSE"), None)
            if nxt is None and after * int(np.prod([size[order[m]] for m in range(lvl + 1, n + k)])) != values.size:
                raise bad("the sparsity parameters place %d values, the buffer holds %d"
                          % (after * int(np.prod([size[order[m]] for m in range(lvl + 1, n + k)])), values.size))
            if nxt is not None and (levels[nxt][2] is None or len(levels[nxt][2]) != after + 1):
                raise bad("array_segments at level %d do not segment its indices among %d positions" % (nxt, after))
            coords = np.concatenate([np.repeat(coords, s, axis=0),
                                     np.tile(np.arange(s, dtype=np.int64), len(coords))[:, None]], axis=1)
        elif fmt == "SPARSE_CSR":
            if segments is None or indices is None:
                raise bad("level %d is SPARSE_CSR without array_segments and array_indices" % lvl)
            if len(segments) != len(coords) + 1 or segments[0] != 0 or np.any(np.diff(segments) < 0) \
                    or segments[-1] != len(indices):
                raise bad("array_segments at level %d do not segment its %d indices among %d positions"
                          % (lvl, len(indices), len(coords)))
            if np.any((indices < 0) | (indices >= s)):
                raise bad("array_indices at level %d outside [0, %d)" % (lvl, s))
            coords = np.concatenate([np.repeat(coords, np.diff(segments), axis=0), indices[:, None]], axis=1)
        else:
            raise bad("level %d has %s" % (lvl, fmt))
        if len(coords) > total:
            raise bad("level %d reaches %d positions, more than the %d elements" % (lvl, len(coords), total))
    if len(coords) != values.size:
        raise bad("the sparsity parameters place %d values, the buffer holds %d" % (len(coords), values.size))
    expanded = np.empty((n + k, len(coords)), np.int64)
    expanded[order] = coords.T        # column l is the index of dimension order[l]
    index = expanded[:n].copy()
    for j, d in enumerate(block_map):
        index[d] = index[d] * size[n + j] + expanded[n + j]
    flat = np.ravel_multi_index(tuple(index), shape) if n else np.zeros(len(coords), np.int64)
    if len(np.unique(flat)) != len(flat):
        raise bad("the sparsity parameters place two values on one element")
    dense = np.zeros(total, values.dtype)
    dense[flat] = values
    return dense.reshape(shape)
