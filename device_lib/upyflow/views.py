# Typed, zero-copy views of byte buffers (arena regions and constant weights).
# CPython: memoryview.cast. MicroPython: uctypes arrays (memoryview cannot be
# cast there). Both are indexable and, for the arena, writable.

try:
    import uctypes

    _UCT = {
        "i8": uctypes.INT8, "u8": uctypes.UINT8, "i16": uctypes.INT16,
        "i32": uctypes.INT32, "f32": uctypes.FLOAT32,
    }
    _SIZE = {"i8": 1, "u8": 1, "i16": 2, "i32": 4, "f32": 4}

    def typed_view(buf, offset, nbytes, dtype):
        n = nbytes // _SIZE[dtype]
        layout = {"v": (uctypes.ARRAY | 0, _UCT[dtype] | max(n, 1))}
        return uctypes.struct(uctypes.addressof(buf) + offset, layout,
                              uctypes.LITTLE_ENDIAN).v

except ImportError:
    _FMT = {"i8": "b", "u8": "B", "i16": "h", "i32": "i", "f32": "f"}

    def typed_view(buf, offset, nbytes, dtype):
        return memoryview(buf)[offset:offset + nbytes].cast(_FMT[dtype])
