# Typed, zero-copy views of byte buffers (arena regions and constant weights),
# indexable and, for the arena, writable. The best each Python offers:
# MicroPython: uctypes arrays (its memoryview cannot be cast); CPython:
# memoryview.cast; CircuitPython and other ports without either: StructView.
# uctypes arrays load elements directly, which faults on Cortex-M0/M0+ at an
# unaligned address: weights in flash (a frozen or ROM-mapped bytes constant)
# may sit anywhere. An unaligned int16/int32/float constant is copied to RAM
# when small (per-channel arrays: indexed once per output), else read through
# StructView, whose "<" formats struct unpacks byte by byte.

import struct

_FMT = {"i8": "<b", "u8": "<B", "i16": "<h", "i32": "<i", "f32": "<f", "u32": "<I", "u64": "<Q", "bool": "<B"}
_SIZE = {"i8": 1, "u8": 1, "i16": 2, "i32": 4, "f32": 4, "u32": 4, "u64": 8, "bool": 1}
_COPY_MAX = 256   # bytes of an unaligned constant worth a RAM copy


class StructView:
    # Element access through struct: slow, but needs nothing a port might lack.
    def __init__(self, buf, offset, dtype):
        self._buf = buf
        self._off = offset
        self._fmt = _FMT[dtype]
        self._size = _SIZE[dtype]

    def __getitem__(self, i):
        return struct.unpack_from(self._fmt, self._buf, self._off + i * self._size)[0]

    def __setitem__(self, i, v):
        struct.pack_into(self._fmt, self._buf, self._off + i * self._size, v)


def struct_view(buf, offset, nbytes, dtype):
    return StructView(buf, offset, dtype)


try:
    import uctypes

    _UCT = {
        "i8": uctypes.INT8, "u8": uctypes.UINT8, "i16": uctypes.INT16,
        "i32": uctypes.INT32, "f32": uctypes.FLOAT32,
        "u32": uctypes.UINT32, "u64": uctypes.UINT64, "bool": uctypes.UINT8,
    }
    # One shared layout per dtype, with a length larger than any tensor: a view
    # then costs ~40 bytes instead of a layout dict of its own (~200 bytes).
    # Kernels index only within the tensor, so the nominal length never matters.
    _LAYOUTS = {}

    def typed_view(buf, offset, nbytes, dtype):
        if (uctypes.addressof(buf) + offset) % _SIZE[dtype]:
            if nbytes <= _COPY_MAX:
                try:
                    import array   # from bytes, MicroPython's array copies the raw values
                    return array.array(_FMT[dtype][1], bytes(memoryview(buf)[offset:offset + nbytes]))
                except ImportError:
                    pass
            return StructView(buf, offset, dtype)
        layout = _LAYOUTS.get(dtype)
        if layout is None:
            layout = _LAYOUTS[dtype] = {"v": (uctypes.ARRAY | 0, _UCT[dtype] | 0xFFFFF)}
        return uctypes.struct(uctypes.addressof(buf) + offset, layout, uctypes.LITTLE_ENDIAN).v

except ImportError:
    try:
        memoryview(b"ab").cast("b")

        def typed_view(buf, offset, nbytes, dtype):
            return memoryview(buf)[offset:offset + nbytes].cast(_FMT[dtype][1])
    except (AttributeError, NotImplementedError, TypeError):
        typed_view = struct_view
