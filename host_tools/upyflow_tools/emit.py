"""Write a baked model: NAME.py with const bytes weights, tensor and op tables."""
from __future__ import annotations

import binascii
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from upyflow.calls import struct_formats

# The format is the device runtime's (upyflow/model.py): its constants, used here.
from upyflow.model import (
    BAND,
    BAND_HEADER,
    BAND_HEADER_SIZE,
    BAND_LAYER,
    BAND_LAYER_SIZE,
    DTYPES,
    FORMAT_VERSION,
    IO_QUANT,
    IO_QUANT_SIZE,
    MAX_BAND_LAYERS,
    MAX_TENSOR_BYTES,
    MAX_TENSOR_SIZE,
    SEGMENT_ALIGN,
    TENSOR_RECORD_SIZE,
    tensor_record,
)

from . import BakeError, __version__
from .ir import Graph
from .lower import Call
from .patches import BandLoop, geometry_fields

WEIGHT_ALIGN = SEGMENT_ALIGN   # each constant, so each record's segment, starts on it


class TensorInfo(NamedTuple):
    """A tensor as the bake knows it; TENSORS keeps (where, dtype, offset, nbytes) of each,
    IO_QUANT the scale and zero point of the inputs and outputs, INPUT_SHAPES and
    OUTPUT_SHAPES their shapes."""
    where: int            # ARENA, WEIGHTS or WEIGHT_BUFFER
    offset: int
    nbytes: int
    dtype: str
    shape: tuple
    scale: float
    zp: int


class OpRecord(NamedTuple):
    """One kernel call: OPS holds its kernel and format index, then its tensor ids and params."""
    kernel: str
    tensors: tuple
    params: tuple


class BandLayer(NamedTuple):
    op: OpRecord          # the layer on whole tensors (chain input/output, band buffers)
    geometry: tuple       # BAND_LAYER's positions: x, out, in_h, out_h, k_h, s_h, d_h, pad_h
    in_row: int           # bytes per row of x and of out
    out_row: int


class BandRecord(NamedTuple):
    """A band loop (patches.py): its layers run band by band on the device."""
    band: int             # output rows of the last layer per band
    height: int           # output rows of the last layer
    layers: tuple         # BandLayer per layer


# Where a tensor's bytes live (model.WHERE).
ARENA, WEIGHTS, WEIGHT_BUFFER = 0, 1, 2
DTYPE_CODES = {name: code for code, name in enumerate(DTYPES)}
QUANT = struct.Struct(IO_QUANT)
assert QUANT.size == IO_QUANT_SIZE
assert struct.calcsize(BAND_HEADER) == BAND_HEADER_SIZE and struct.calcsize(BAND_LAYER) == BAND_LAYER_SIZE


def tensor_bytes(kind: int, offset: int, nbytes: int) -> bytes:
    """One TENSORS record (upyflow/model.py): kind and the top 3 bits of nbytes, the 24-bit
    offset, nbytes' low 16 bits."""
    return bytes([kind | (nbytes >> 16) << 5]) + offset.to_bytes(3, "little") + \
        (nbytes & 0xFFFF).to_bytes(2, "little")


assert len(tensor_bytes(0, 0, 0)) == TENSOR_RECORD_SIZE


def pack_records(records: list[TensorInfo]) -> bytes:
    out = bytearray()
    for r in records:
        if r.dtype not in DTYPE_CODES:   # assemble() names the tensor first
            raise BakeError("tensor type %s cannot be baked" % r.dtype)
        out += tensor_bytes(r.where | DTYPE_CODES[r.dtype] << 2, r.offset, r.nbytes)
    return bytes(out)


def pack_quant(baked: Baked) -> bytes:
    return b"".join(QUANT.pack(baked.tensors[t].scale, baked.tensors[t].zp)
                    for t in list(baked.inputs) + list(baked.outputs))


@dataclass
class Baked:
    source: str
    tensors: list[TensorInfo]
    tensor_names: list[str]
    calls: list                   # OpRecord or BandRecord per op record
    inputs: list[int]
    outputs: list[int]
    weights: bytes                # inline: the WEIGHTS constant; file: NAME.bin
    arena_size: int
    weights_mode: str = "inline"
    segments: list[tuple[int, int]] | None = None   # file mode: (file offset, bytes) per record
    variables: list[tuple[int, int]] | None = None  # (tensor record, fill byte) per state tensor
    labels: list[str] | None = None   # class names of output 0 (bake --labels)
    # <H tensor record + its initial bytes, per state tensor whose start is not one byte repeated
    variable_values: bytes = b""

    @property
    def weight_buffer(self) -> int:
        """Bytes of the one reusable buffer that file mode reads each layer's weights into."""
        return max((n for _, n in self.segments or []), default=0)


def assemble(graph: Graph, calls: list[Call], alias: dict[int, int],
             offsets: dict[int, int], arena_size: int, source: str,
             weights_mode: str = "inline", loops: Sequence[BandLoop] = ()) -> Baked:
    """Renumber the tensors the calls use and pack constants into one weights blob.

    inline: constants are slices of one bytes object. file: each record's constants
    form one contiguous segment of NAME.bin, laid out as they will sit in the
    reusable weight buffer, so a single readinto() loads a layer (a band loop: all
    its layers). loops (patches.BandLoop): band calls baked as one band-loop record.
    """
    index: dict[object, int] = {}
    by_place: dict[tuple, int] = {}
    records, names = [], []
    blob = bytearray()
    segment_start = [0]

    def pad() -> None:
        blob.extend(b"\0" * (-len(blob) % WEIGHT_ALIGN))

    def use(t: int, call: int = -1, share: bool = True) -> int:
        tensor = graph.tensors[t]
        if tensor.dtype not in DTYPE_CODES:
            raise BakeError("tensor %r has type %s, which no device kernel reads or writes"
                            % (tensor.name, tensor.dtype))
        if not -2**31 <= tensor.zp < 2**31:
            raise BakeError("tensor %r has zero point %d, beyond int32" % (tensor.name, tensor.zp))
        key = (call, t) if tensor.is_const and weights_mode == "file" else t
        if key in index:
            return index[key]
        if tensor.is_const:
            pad()
            where = WEIGHT_BUFFER if weights_mode == "file" else WEIGHTS
            offset = len(blob) - (segment_start[0] if weights_mode == "file" else 0)
            blob.extend(tensor.const_data.tobytes())
        elif t in graph.views:                  # a range of another tensor's bytes
            base, delta = graph.views[t]
            where, offset = ARENA, offsets[alias.get(base, base)] + delta
        else:
            where, offset = ARENA, offsets[alias.get(t, t)]
        if offset + tensor.nbytes >= MAX_TENSOR_BYTES or tensor.nbytes >= MAX_TENSOR_SIZE:
            raise BakeError("tensor %r of %d bytes ends at byte %d of its %s, beyond the 16 MB a "
                            "tensor record addresses or the 512 KB it sizes"
                            % (tensor.name, tensor.nbytes, offset + tensor.nbytes,
                               ("arena", "weights", "weight buffer")[where]))
        # Tensors at the same bytes with the same type share a record: the device reads
        # nothing else from it (file mode: layers of one shape read their weights into
        # the same places of the weight buffer).
        same = (where, offset, tensor.nbytes, tensor.dtype)
        if same not in by_place or not share:   # inputs and outputs: their own (IO_QUANT, shapes)
            records.append(TensorInfo(where, offset, tensor.nbytes, tensor.dtype, tuple(tensor.shape),
                                      tensor.sc, tensor.zp))
            names.append(tensor.name)
            by_place[same] = len(records) - 1
        index[key] = by_place[same]
        return index[key]

    inputs = [use(t, share=False) for t in graph.inputs]
    outputs = [use(t, share=False) for t in graph.outputs]
    table: list[OpRecord | BandRecord] = []
    segments = []
    starts = {loop.first: loop for loop in loops}
    k = 0
    while k < len(calls):
        loop = starts.get(k)
        group = [layer[0] for layer in loop.layers] if loop else [calls[k]]
        # file mode: each record's constants in their own segment, right after the previous
        # one's (rounded up): the device derives where each starts and how long it is
        # (model.py SEGMENT_ALIGN), so records reading the same constants read copies
        pad()
        segment_start[0] = len(blob)
        ops = [OpRecord(c.kernel, tuple(use(t, k) for t in c.tensors), tuple(c.params)) for c in group]
        segments.append((segment_start[0], len(blob) - segment_start[0]))
        ends = [records[t].offset + records[t].nbytes for op in ops for t in op.tensors
                if records[t].where == WEIGHT_BUFFER]
        assert weights_mode != "file" or max(ends, default=0) == segments[-1][1]
        if loop:
            table.append(BandRecord(loop.band, loop.height, tuple(
                BandLayer(op, geometry_fields(g), in_row, out_row)
                for op, (_c, g, in_row, out_row) in zip(ops, loop.layers))))
        else:
            table.append(ops[0])
        k += loop.count if loop else 1
    # State tensors start (and reset) as TFLM does: int8 bytes at the zero point, others 0.
    state = [t for t in sorted(k for k in index if isinstance(k, int)) if graph.tensors[t].variable]
    variables = [(index[t], _fill_byte(graph.tensors[t])) for t in state]
    values = b"".join(struct.pack("<H", index[t]) + (graph.tensors[t].initial or b"") for t in state
                      if _fill_byte(graph.tensors[t]) is None)   # None: it has initial bytes
    return Baked(source, records, names, table, inputs, outputs, bytes(blob), arena_size,
                 weights_mode, segments if weights_mode == "file" else None,
                 [(r, 0 if f is None else f) for r, f in variables], variable_values=values)


def _fill_byte(t) -> int | None:
    """The byte a state tensor starts (and resets) with; None: its initial bytes vary."""
    if t.initial is None:
        return (t.zp & 0xFF) if t.dtype == "i8" else 0
    if t.initial.count(t.initial[:1]) != len(t.initial):
        return None
    return t.initial[0] if t.initial else 0


def format_table(formats: list[str]) -> bytes:
    """OP_FORMATS from struct formats "<{count}{B|H}{kinds}" (upyflow.model.struct_formats)."""
    out = bytearray()
    for fmt in formats:
        h = 1
        while fmt[h].isdigit():
            h += 1
        kinds = fmt[h + 1:].encode()
        out += bytes([int(fmt[1:h]), 1 if fmt[h] == "B" else 2, len(kinds)]) + kinds
    return bytes(out)


def _kind(p) -> str:
    """A param's struct code: float32, or the narrowest of int8, int16, int32."""
    if isinstance(p, float):
        return "f"
    if not -2**31 <= p < 2**31:
        raise BakeError("parameter %d is beyond int32" % p)
    return "b" if -128 <= p < 128 else "h" if -32768 <= p < 32768 else "i"


def pack_calls(calls: list) -> tuple[list[str], list[str], bytes]:
    """The op table as one bytes object (a tuple per op costs a board ~300 bytes).

    Per OpRecord: kernel index, format index (bytes), then struct.pack(format, tensor
    ids..., params...), the format (struct notation: "<", tensor count, "B"/"H" ids, then
    "b"/"h"/"i"/"f" per param) as narrow as the values. Per
    BandRecord: BAND, BAND_HEADER, BAND_LAYER per layer, then each layer's OpRecord.
    """
    kernels: list[str] = []
    formats: list[str] = []
    blob = bytearray()

    def op(r: OpRecord) -> bytes:
        fmt = "<%d%s" % (len(r.tensors), "B" if max(r.tensors, default=0) < 256 else "H") + \
            "".join(_kind(p) for p in r.params)
        for table, item in ((kernels, r.kernel), (formats, fmt)):
            if item not in table:
                table.append(item)
        return bytes([kernels.index(r.kernel), formats.index(fmt)]) + struct.pack(fmt, *r.tensors, *r.params)

    for rec in calls:
        if isinstance(rec, OpRecord):
            blob += op(rec)
            continue
        if not 0 < len(rec.layers) <= MAX_BAND_LAYERS or not 0 < rec.band < 256 or rec.height >= 2**16:
            raise BakeError("a band loop of %d layers, %d-row bands of %d rows is beyond the format"
                            % (len(rec.layers), rec.band, rec.height))
        blob += bytes([BAND]) + struct.pack(BAND_HEADER, len(rec.layers), rec.band, rec.height)
        for layer in rec.layers:
            blob += struct.pack(BAND_LAYER, *layer.geometry, layer.in_row, layer.out_row)
        for layer in rec.layers:
            blob += op(layer.op)
    if len(kernels) >= BAND or len(formats) > 255:
        raise BakeError("%d kernels and %d op formats: more than an op record's byte indexes"
                        % (len(kernels), len(formats)))
    return kernels, formats, bytes(blob)


def module_tensor(mod, i: int) -> tuple[int, str, int, int]:
    """(where, dtype, offset, nbytes) of tensor record i of a baked module."""
    kind, offset, nbytes = tensor_record(mod.TENSORS, i)
    return kind & 3, DTYPES[kind >> 2], offset, nbytes


def module_records(mod) -> list[tuple[int, int, list[OpRecord]]]:
    """(start, end, op records) per record of a baked module's OPS: a plain op's record
    is one op, a band loop's its layers on whole tensors."""
    def op(pos: int) -> tuple[OpRecord, int]:
        fmt, nt = formats[ops[pos + 1]]
        vals = struct.unpack_from(fmt, ops, pos + 2)
        return OpRecord(mod.OP_KERNELS[ops[pos]], vals[:nt], vals[nt:]), pos + 2 + struct.calcsize(fmt)

    ops, out, pos = mod.OPS, [], 0
    formats = struct_formats(mod.OP_FORMATS)
    while pos < len(ops):
        start = pos
        if ops[pos] == BAND:
            n = ops[pos + 1]
            pos += 1 + BAND_HEADER_SIZE + n * BAND_LAYER_SIZE
            layers = []
            for _ in range(n):
                r, pos = op(pos)
                layers.append(r)
        else:
            r, pos = op(pos)
            layers = [r]
        out.append((start, pos, layers))
    return out


def module_calls(mod) -> list[tuple[str, tuple]]:
    """(kernel, params) per kernel call of one invoke of a baked module: a band loop's
    layers once per band, with the rows the device gives them (upyflow.model.band_rows)."""
    from upyflow.calls import band_rows, rows_needed
    out = []
    for start, _end, ops in module_records(mod):
        if mod.OPS[start] != BAND:
            out.append((ops[0].kernel, ops[0].params))
            continue
        _n, band, height = struct.unpack_from(BAND_HEADER, mod.OPS, start + 1)
        geoms = [struct.unpack_from(BAND_LAYER, mod.OPS, start + 1 + BAND_HEADER_SIZE + k * BAND_LAYER_SIZE)
                 for k in range(len(ops))]
        for r0 in range(0, height, band):
            rows = band_rows([op.params for op in ops], geoms, r0, band, height)
            for op, g, (lo, hi) in zip(ops, geoms, rows):
                a, b = rows_needed(op.params, g, lo, hi)
                p = list(op.params)
                p[g[2]], p[g[3]], p[g[7]] = b - a, hi - lo, a - (lo * p[g[5]] - p[g[7]])
                out.append((op.kernel, tuple(p)))
    return out


def _bytes_literal(data: bytes, width: int = 96) -> str:
    if not data:
        return "b''"
    lines = [repr(data[i:i + width]) for i in range(0, len(data), width)]
    return "(\n    " + "\n    ".join(lines) + "\n)"


def module_source(baked: Baked, name: str) -> str:
    """The NAME.py text (in file mode its weights go to NAME.bin, written by the caller)."""
    crc = binascii.crc32(baked.weights) & 0xFFFFFFFF
    out = [
        "# Baked by upyflow %s from %s. Do not edit: bake again instead." % (__version__, baked.source),
        "FORMAT_VERSION = %d" % FORMAT_VERSION,
        "NAME = %r" % name,
        "ARENA_SIZE = %d" % baked.arena_size,
        "WEIGHTS_CRC32 = 0x%08x" % crc,
        "WEIGHTS_SIZE = %d" % len(baked.weights),
        "# %d tensor records (upyflow/model.py TENSORS): (where, offset, nbytes, dtype, shape, "
        "scale, zero point) name" % len(baked.tensors),
    ]
    named = enumerate(zip(baked.tensors, baked.tensor_names))
    out += ["# %3d %r %s" % (i, tuple(rec), ascii(nm[:50])) for i, (rec, nm) in named]
    out += ["TENSORS = " + _bytes_literal(pack_records(baked.tensors)),
            "# op records (upyflow/model.py OPS), in order:"]
    for rec in baked.calls:
        if isinstance(rec, BandRecord):
            out += ["#   band loop: %d-row bands of %d rows" % (rec.band, rec.height)]
            out += ["#     %r geometry %r rows %d -> %d bytes" % (tuple(la.op), la.geometry, la.in_row, la.out_row)
                    for la in rec.layers]
        else:
            out += ["#   %r" % (tuple(rec),)]
    kernels, formats, blob = pack_calls(baked.calls)
    out += ["OP_KERNELS = %r" % (tuple(kernels),),
            "# formats, in struct notation: %s" % ", ".join(formats),
            "OP_FORMATS = " + _bytes_literal(format_table(formats)),
            "OPS = " + _bytes_literal(blob),
            "# scale and zero point per input, then per output",
            "IO_QUANT = " + _bytes_literal(pack_quant(baked)),
            "INPUTS = %r" % (tuple(baked.inputs),),
            "OUTPUTS = %r" % (tuple(baked.outputs),),
            "INPUT_SHAPES = %r" % (tuple(baked.tensors[i].shape for i in baked.inputs),),
            "OUTPUT_SHAPES = %r" % (tuple(baked.tensors[i].shape for i in baked.outputs),),
            ]
    if baked.labels:
        out += ["# class names of output 0, in order (bake --labels)",
                "LABELS = %r" % (tuple(baked.labels),)]
    if baked.variables:
        out += ["# <HB (tensor record, fill byte) per variable (state) tensor; see Model.reset()",
                "VARIABLES = " + _bytes_literal(b"".join(struct.pack("<HB", *v) for v in baked.variables))]
    if baked.variable_values:   # optional: modules without it reset by the fill bytes alone
        out += ["# per state tensor starting from varying values: <H tensor record, then its bytes",
                "VARIABLE_VALUES = " + _bytes_literal(baked.variable_values)]
    if baked.weights_mode == "file":
        out += ["WEIGHTS = None",
                "WEIGHTS_FILE = %r" % (name + ".bin"),
                "WEIGHT_BUFFER = %d" % baked.weight_buffer,
                "# (offset in WEIGHTS_FILE, bytes) per op record, read just before it runs (derived "
                "on the device): %s" % ", ".join("%d+%d" % seg for seg in baked.segments or ()),
                ""]
    else:
        out += ["WEIGHTS = " + _bytes_literal(baked.weights), ""]
    return "\n".join(out)
