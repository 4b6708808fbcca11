"""Write a baked model: NAME.py with const bytes weights, tensor and op tables."""
from __future__ import annotations

import binascii
from dataclasses import dataclass

from . import __version__
from .ir import Graph
from .lower import Call

FORMAT_VERSION = 1  # must match device_lib/upyflow/model.py
WEIGHT_ALIGN = 8


@dataclass
class Baked:
    source: str
    tensors: list[tuple]          # (where, offset, nbytes, dtype, shape, scale, zero_point)
    tensor_names: list[str]
    calls: list[tuple]            # (kernel, tensor ids, params)
    inputs: list[int]
    outputs: list[int]
    weights: bytes
    arena_size: int


def assemble(graph: Graph, calls: list[Call], alias: dict[int, int],
             offsets: dict[int, int], arena_size: int, source: str) -> Baked:
    """Renumber the tensors the calls use and pack constants into one weights blob."""
    index: dict[int, int] = {}
    records, names = [], []
    blob = bytearray()

    def use(t: int) -> int:
        if t in index:
            return index[t]
        tensor = graph.tensors[t]
        storage = alias.get(t, t)
        if tensor.is_const:
            blob.extend(b"\0" * (-len(blob) % WEIGHT_ALIGN))
            where, offset = 1, len(blob)
            blob.extend(tensor.data.tobytes())
        else:
            where, offset = 0, offsets[storage]
        records.append((where, offset, tensor.nbytes, tensor.dtype, tuple(tensor.shape),
                        tensor.sc, tensor.zp))
        names.append(tensor.name)
        index[t] = len(records) - 1
        return index[t]

    inputs = [use(t) for t in graph.inputs]
    outputs = [use(t) for t in graph.outputs]
    table = [(c.kernel, tuple(use(t) for t in c.tensors), tuple(c.params)) for c in calls]
    return Baked(source, records, names, table, inputs, outputs, bytes(blob), arena_size)


def _bytes_literal(data: bytes, width: int = 96) -> str:
    if not data:
        return "b''"
    lines = [repr(data[i:i + width]) for i in range(0, len(data), width)]
    return "(\n    " + "\n    ".join(lines) + "\n)"


def module_source(baked: Baked, name: str) -> str:
    crc = binascii.crc32(baked.weights) & 0xFFFFFFFF
    out = [
        "# Baked by upyflow %s from %s. Do not edit: bake again instead." % (__version__, baked.source),
        "FORMAT_VERSION = %d" % FORMAT_VERSION,
        "NAME = %r" % name,
        "ARENA_SIZE = %d" % baked.arena_size,
        "WEIGHTS_CRC32 = 0x%08x" % crc,
        "# (where 0=arena 1=weights, offset, bytes, dtype, shape, scale, zero point)",
        "TENSORS = (",
    ]
    out += ["    %r,  # %s" % (rec, nm[:60]) for rec, nm in zip(baked.tensors, baked.tensor_names)]
    out += [")", "OPS = ("]
    out += ["    %r," % (call,) for call in baked.calls]
    out += [")",
            "INPUTS = %r" % (tuple(baked.inputs),),
            "OUTPUTS = %r" % (tuple(baked.outputs),),
            "WEIGHTS = " + _bytes_literal(baked.weights),
            ""]
    return "\n".join(out)
