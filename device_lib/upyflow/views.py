# Typed, zero-copy views of byte buffers (arena regions and constant weights).
# CPython: memoryview.cast. MicroPython: uctypes arrays (memoryview cannot be
# cast there). Both are indexable and, for the arena, writable.

try:
    import uctypes

    _UCT = {
        "i8": uctypes.INT8, "u8": uctypes.UINT8, "i16": uctypes.INT16,
        "i32": uctypes.INT32, "f32": uctypes.FLOAT32,
    }
    # One shared layout per dtype, with a length larger than any tensor: a view
    # then costs ~40 bytes instead of a layout dict of its own (~200 bytes).
    # Kernels index only within the tensor, so the nominal length never matters.
    _LAYOUTS = {}

    def typed_view(buf, offset, nbytes, dtype):
        layout = _LAYOUTS.get(dtype)
        if layout is None:
            layout = _LAYOUTS[dtype] = {"v": (uctypes.ARRAY | 0, _UCT[dtype] | 0xFFFFF)}
        return uctypes.struct(uctypes.addressof(buf) + offset, layout, uctypes.LITTLE_ENDIAN).v

except ImportError:
    _FMT = {"i8": "b", "u8": "B", "i16": "h", "i32": "i", "f32": "f"}

    def typed_view(buf, offset, nbytes, dtype):
        return memoryview(buf)[offset:offset + nbytes].cast(_FMT[dtype])
