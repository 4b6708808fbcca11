# A baked model at run time: one arena bytearray, typed views into it and into
# the weights, and an op table of (kernel, args) walked by invoke().

from .views import typed_view
from . import dispatch

FORMAT_VERSION = 1
_SIZE = {"i8": 1, "u8": 1, "i16": 2, "i32": 4, "f32": 4}
_RANGE = {"i8": (-128, 127), "u8": (0, 255), "i16": (-32768, 32767)}


class Model:
    def __init__(self, module, tier=None):
        version = getattr(module, "FORMAT_VERSION", None)
        if version != FORMAT_VERSION:
            raise ValueError("baked model format %s, this runtime reads format %d: "
                             "bake the model again with this upyflow version"
                             % (version, FORMAT_VERSION))
        self.name = module.NAME
        self.arena_size = module.ARENA_SIZE
        try:
            self._arena = bytearray(module.ARENA_SIZE)
        except MemoryError:
            raise MemoryError("model %s needs an arena of %d bytes, more than the free heap"
                              % (module.NAME, module.ARENA_SIZE))
        self._weights = module.WEIGHTS
        self._tensors = module.TENSORS
        self.tier, kernels = dispatch.table(tier or dispatch.default_tier())
        views = []
        raw = []
        for where, offset, nbytes, dtype, _shape, _scale, _zp in self._tensors:
            buf = self._arena if where == 0 else self._weights
            views.append(typed_view(buf, offset, nbytes, dtype))
            raw.append(memoryview(buf)[offset:offset + nbytes])
        self._views = views
        calls = []
        for name, tensor_ids, params in module.OPS:
            if name not in kernels:
                raise ValueError("baked model uses kernel %s, which this runtime lacks" % name)
            fn, convention = kernels[name]
            src = views if convention == dispatch.PURE else raw
            calls.append((fn, tuple(src[i] for i in tensor_ids) + tuple(params), convention))
        self._calls = calls
        self._inputs = module.INPUTS
        self._outputs = module.OUTPUTS
        self._weights_crc = module.WEIGHTS_CRC32
        meta = self._meta
        self.input_shape = [meta(i)[4] for i in self._inputs]
        self.input_dtype = [meta(i)[3] for i in self._inputs]
        self.input_scale = [meta(i)[5] for i in self._inputs]
        self.input_zero_point = [meta(i)[6] for i in self._inputs]
        self.output_shape = [meta(i)[4] for i in self._outputs]
        self.output_dtype = [meta(i)[3] for i in self._outputs]
        self.output_scale = [meta(i)[5] for i in self._outputs]
        self.output_zero_point = [meta(i)[6] for i in self._outputs]

    def _meta(self, tensor_id):
        return self._tensors[tensor_id]

    def _bytes_view(self, tensor_id):
        _where, offset, nbytes = self._tensors[tensor_id][:3]
        return memoryview(self._arena)[offset:offset + nbytes]

    def input_buffer(self, i=0):
        """Writable memoryview of input i's bytes, for zero-copy filling."""
        return self._bytes_view(self._inputs[i])

    def set_input(self, i, data):
        buf = self.input_buffer(i)
        given = len(memoryview(data)) * _itemsize(data)
        if given != len(buf):
            raise ValueError("input %d needs %d bytes (%s %s), got %d"
                             % (i, len(buf), self.input_dtype[i],
                                _shape_str(self.input_shape[i]), given))
        buf[:] = data if isinstance(data, (bytes, bytearray)) else bytes(data)

    def invoke(self):
        for fn, args, convention in self._calls:
            if convention:
                fn(args)
            else:
                fn(*args)

    def get_output(self, i=0):
        """Memoryview of output i's bytes (valid until the next invoke)."""
        return self._bytes_view(self._outputs[i])

    def predict(self, data):
        self.set_input(0, data)
        self.invoke()
        return self.get_output(0)

    def quantize_input(self, values, i=0):
        """Quantize floats into input i's buffer (int8/int16) or pack float32."""
        _fill(self._views[self._inputs[i]], self._meta(self._inputs[i]), values)

    def dequantize_output(self, i=0):
        """Output i as a list of floats."""
        tid = self._outputs[i]
        return _floats(self._views[tid], self._meta(tid))

    def verify(self):
        """Check the weights against the checksum baked with them."""
        import binascii
        return binascii.crc32(self._weights) & 0xFFFFFFFF == self._weights_crc


def _itemsize(data):
    # array.array and memoryviews of wider types count in items, not bytes.
    try:
        return data.itemsize
    except AttributeError:
        tc = getattr(data, "typecode", "B")
        return {"b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 4, "L": 4, "f": 4}.get(tc, 1)


def _shape_str(shape):
    return "x".join(str(d) for d in shape)


def _count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _fill(view, meta, values):
    dtype, shape, scale, zp = meta[3], meta[4], meta[5], meta[6]
    n = _count(shape)
    if len(values) != n:
        raise ValueError("expected %d values for shape %s, got %d" % (n, _shape_str(shape), len(values)))
    if dtype == "f32":
        for k in range(n):
            view[k] = values[k]
        return
    lo, hi = _RANGE[dtype]
    for k in range(n):
        q = values[k] / scale
        q = int(q + 0.5) if q >= 0 else -int(-q + 0.5)
        view[k] = min(max(q + zp, lo), hi)


def _floats(view, meta):
    dtype, shape, scale, zp = meta[3], meta[4], meta[5], meta[6]
    n = _count(shape)
    if dtype == "f32":
        return [view[k] for k in range(n)]
    return [(view[k] - zp) * scale for k in range(n)]
