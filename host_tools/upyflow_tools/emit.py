"""Write a baked model: NAME.py with const bytes weights, tensor and op tables."""
from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass

from . import BakeError, __version__, kernel_spec
from .ir import Graph
from .lower import Call

FORMAT_VERSION = 2  # must match device_lib/upyflow/model.py
WEIGHT_ALIGN = 8


# Where a tensor's bytes live, as the device reads TENSORS[i][0].
ARENA, WEIGHTS, WEIGHT_BUFFER = 0, 1, 2
# One tensor record in the packed TENSORS bytes (model.py reads the same layout):
# where, dtype code, offset, nbytes, zero point, scale (float32). Packed bytes
# instead of tuples: a board keeps 20 bytes per tensor, not ~250. Shapes are
# needed only for inputs and outputs, which get INPUT_SHAPES / OUTPUT_SHAPES.
RECORD = struct.Struct("<BBxxIIif")
DTYPE_CODES = {"i8": 0, "u8": 1, "i16": 2, "i32": 3, "f32": 4, "u32": 5, "u64": 6}


def pack_records(records: list[tuple]) -> bytes:
    out = bytearray()
    for where, offset, nbytes, dtype, _shape, scale, zp in records:
        if dtype not in DTYPE_CODES:   # assemble() names the tensor first
            raise BakeError("tensor type %s cannot be baked" % dtype)
        out += RECORD.pack(where, DTYPE_CODES[dtype], offset, nbytes, zp, scale)
    return bytes(out)


@dataclass
class Baked:
    source: str
    tensors: list[tuple]          # (where, offset, nbytes, dtype, shape, scale, zero_point)
    tensor_names: list[str]
    calls: list[tuple]            # (kernel, tensor ids, params)
    inputs: list[int]
    outputs: list[int]
    weights: bytes                # inline: the WEIGHTS constant; file: NAME.bin
    arena_size: int
    weights_mode: str = "inline"
    segments: list[tuple[int, int]] | None = None   # file mode: (file offset, bytes) per call
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
             weights_mode: str = "inline") -> Baked:
    """Renumber the tensors the calls use and pack constants into one weights blob.

    inline: constants are slices of one bytes object. file: each call's constants
    form one contiguous segment of NAME.bin, laid out as they will sit in the
    reusable weight buffer, so a single readinto() loads a layer.
    """
    index: dict[object, int] = {}
    records, names = [], []
    blob = bytearray()
    segment_start = [0]

    def pad() -> None:
        blob.extend(b"\0" * (-len(blob) % WEIGHT_ALIGN))

    # file mode: calls reading the same constants (one layer run in bands) share one segment
    owner: dict[tuple, int] = {}

    def use(t: int, call: int = -1) -> int:
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
            blob.extend(tensor.data.tobytes())
        elif t in graph.views:                  # a range of another tensor's bytes
            base, delta = graph.views[t]
            where, offset = ARENA, offsets[alias.get(base, base)] + delta
        else:
            where, offset = ARENA, offsets[alias.get(t, t)]
        records.append((where, offset, tensor.nbytes, tensor.dtype, tuple(tensor.shape),
                        tensor.sc, tensor.zp))
        names.append(tensor.name)
        index[key] = len(records) - 1
        return index[key]

    inputs = [use(t) for t in graph.inputs]
    outputs = [use(t) for t in graph.outputs]
    table, segments = [], []
    for k, c in enumerate(calls):
        consts = tuple(t for t in c.tensors if graph.tensors[t].is_const)
        first = owner.setdefault(consts, k) if weights_mode == "file" else k
        if first != k:          # its constants are already in the file: read that segment again
            table.append((c.kernel, tuple(use(t, first) for t in c.tensors), tuple(c.params)))
            segments.append(segments[first])
            continue
        pad()
        segment_start[0] = len(blob)
        table.append((c.kernel, tuple(use(t, k) for t in c.tensors), tuple(c.params)))
        segments.append((segment_start[0], len(blob) - segment_start[0]))
    # State tensors start (and reset) as TFLM does: int8 bytes at the zero point, others 0.
    state = [t for t in sorted(k for k in index if isinstance(k, int)) if graph.tensors[t].variable]
    variables = [(index[t], _fill_byte(graph.tensors[t])) for t in state]
    values = b"".join(struct.pack("<H", index[t]) + graph.tensors[t].initial for t in state
                      if _fill_byte(graph.tensors[t]) is None)
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


def pack_calls(calls: list[tuple]) -> tuple[list[str], list[str], bytes]:
    """The op table as one bytes object (a tuple per op costs a board ~300 bytes).

    Per op: kernel index, format index (bytes), then struct.pack(format, tensor
    ids..., params...), the format being "<nH" then "i"/"f" per parameter: the
    kernel's record_format in kernel_spec.
    """
    kernels: list[str] = []
    formats: list[str] = []
    blob = bytearray()
    for kernel, ids, params in calls:
        fmt = kernel_spec.get(kernel).record_format
        for table, item in ((kernels, kernel), (formats, fmt)):
            if item not in table:
                table.append(item)
        blob += bytes([kernels.index(kernel), formats.index(fmt)]) + struct.pack(fmt, *ids, *params)
    return kernels, formats, bytes(blob)


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
        "# %d tensor records of %d bytes; see RECORD in upyflow_tools/emit.py" % (len(baked.tensors), RECORD.size),
    ]
    out += ["# %3d %r %s" % (i, rec, ascii(nm[:50])) for i, (rec, nm) in enumerate(zip(baked.tensors, baked.tensor_names))]
    out += ["TENSORS = " + _bytes_literal(pack_records(baked.tensors)),
            "# (kernel, struct format, packed tensor ids then params) per op; in order:"]
    out += ["#   %r" % (call,) for call in baked.calls]
    kernels, formats, blob = pack_calls(baked.calls)
    out += ["OP_KERNELS = %r" % (tuple(kernels),),
            "OP_FORMATS = %r" % (tuple(formats),),
            "OPS = " + _bytes_literal(blob),
            "INPUTS = %r" % (tuple(baked.inputs),),
            "OUTPUTS = %r" % (tuple(baked.outputs),),
            "INPUT_SHAPES = %r" % (tuple(baked.tensors[i][4] for i in baked.inputs),),
            "OUTPUT_SHAPES = %r" % (tuple(baked.tensors[i][4] for i in baked.outputs),),
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
                "# <II (offset in WEIGHTS_FILE, bytes) per op: its weights, read just before it runs",
                "SEGMENTS = " + _bytes_literal(b"".join(struct.pack("<II", *seg) for seg in baked.segments)),
                ""]
    else:
        out += ["WEIGHTS = " + _bytes_literal(baked.weights), ""]
    return "\n".join(out)
