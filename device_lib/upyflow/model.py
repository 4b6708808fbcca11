# A baked model at run time: one arena bytearray and the baked tables. On the
# native tier the C walker runs the packed op records itself (one call per
# invoke); the pure and viper tiers walk a list of (kernel, args) calls.

import struct
from .views import typed_view
from . import dispatch

# The baked module format, defined here once (upyflow_tools/emit.py packs it from
# these constants; native_modules/src/walker.c reads the same layout).
FORMAT_VERSION = 5   # 5: 6-byte tensor records, no SEGMENTS; 4: lstm_s8's sigmoid table tensor
# TENSORS: per tensor, its kind (where | dtype code << 2) | (its bytes >> 16) << 5,
# its byte offset in its buffer (24-bit little-endian), its bytes' low 16 bits
# (tensor_record).
TENSOR_RECORD_SIZE = 6
MAX_TENSOR_BYTES = 1 << 24   # offsets and ends within a buffer stay below it
MAX_TENSOR_SIZE = 1 << 19    # and each tensor's bytes
WHERE = ("arena", "weights", "weight buffer")   # ARENA, WEIGHTS, WEIGHT_BUFFER: 0, 1, 2
DTYPES = ("i8", "u8", "i16", "i32", "f32", "u32", "u64", "bool")   # bool: bytes 0/1
# IO_QUANT: per input, then per output: scale and zero point.
IO_QUANT = "<fi"
IO_QUANT_SIZE = 8
# OPS, per op: kernel index (in OP_KERNELS), format index (in OP_FORMATS), then its
# tensor ids (1 or 2 bytes each) and params, packed as the format says. OP_FORMATS,
# per format: tensor count, bytes per tensor id, param count, then per param "b",
# "h", "i" (int8, int16, int32) or "f" (float32); calls.struct_formats reads it. A
# band loop (patch-based first stages): the byte BAND, BAND_HEADER (layers, band rows,
# output rows of the last layer), BAND_LAYER per layer
# (positions of x and out among its tensors; of in_h, out_h, k_h, s_h, d_h (or
# NO_DILATION) and pad_h among its params; bytes per input and output row), then each
# layer's op record on whole tensors; see calls.band_rows.
BAND = 0xFF
BAND_HEADER = "<BBH"
BAND_HEADER_SIZE = 4
BAND_LAYER = "<8BII"
BAND_LAYER_SIZE = 16
NO_DILATION = 0xFF
MAX_BAND_LAYERS = 8
# --weights file: before each record runs, its segment of WEIGHTS_FILE is read into
# the weight buffer: as many bytes as its weight-buffer tensors reach (offset +
# nbytes), from where the previous record's segment ends rounded up to SEGMENT_ALIGN
# (the first from 0); no table holds them (calls.segment_bytes, walker.c uf_invoke).
SEGMENT_ALIGN = 8
_IO_ENTRY = "<HfiB"   # Model._pack_io
_IO_ENTRY_SIZE = 11
_RANGE = {"i8": (-128, 127), "u8": (0, 255), "i16": (-32768, 32767)}
# array.array type codes by dtype ('i': 32 bits on MicroPython's ports and CPython)
_CODES = {"i8": "b", "u8": "B", "i16": "h", "i32": "i", "f32": "f", "u32": "I", "u64": "Q", "bool": "B"}


class Model:
    # Attributes most models leave at these class defaults (an instance's own
    # attributes cost a board heap, each slot of their table too).
    labels = None                     # class names of output 0 (bake --labels)
    _wfile = _wname = None    # --weights file: NAME.bin and its name
    _steps = _prog = _pycalls = _calls = _reader = None
    _variables = _variable_values = b""

    def __init__(self, module, tier=None, verify=False):
        version = getattr(module, "FORMAT_VERSION", None)
        if version is None or not hasattr(module, "TENSORS"):
            raise ValueError("module %s is not a model baked by upyflow (no FORMAT_VERSION or "
                             "TENSORS)" % getattr(module, "__name__", "?"))
        if version != FORMAT_VERSION:
            raise ValueError("baked model format %r, this runtime reads format %d: "
                             "bake the model again with this upyflow version"
                             % (version, FORMAT_VERSION))
        self.name = module.NAME
        self.arena_size = module.ARENA_SIZE
        labels = getattr(module, "LABELS", None)
        if labels:
            self.labels = labels
        self._weights = module.WEIGHTS
        self._tensors = module.TENSORS
        # Kernel modules first: importing them needs transient heap that the big
        # blocks below would otherwise crowd out on a small board.
        self.tier, kernels = dispatch.table(tier or dispatch.default_tier())
        native = dispatch.native_module(self.tier)
        kmap = bytearray(len(module.OP_KERNELS))   # per OP_KERNELS entry: native index, 0xFF: Python
        resolved = [None] * len(kmap)   # (fn, convention) of the kernels Python calls
        for k, name in enumerate(module.OP_KERNELS):
            if name not in kernels:
                raise ValueError("baked model uses kernel %s, which this runtime lacks" % name)
            kmap[k] = dispatch.native_index(native, name) & 0xFF if native else 0xFF
            if kmap[k] == 0xFF:
                resolved[k] = kernels[name]   # imports its module now, before the big block
        # Then one big block, before small objects fragment the heap: the arena,
        # and after it (weights streamed from NAME.bin) the buffer each layer's
        # weights are read into just before it runs.
        wstart = (module.ARENA_SIZE + 7) & ~7
        wbytes = module.WEIGHT_BUFFER if self._weights is None else 0
        self._arena = _alloc(wstart + wbytes, module.NAME, wbytes)
        self._weights_crc = module.WEIGHTS_CRC32
        size = getattr(module, "WEIGHTS_SIZE", None)   # a damaged module may lack it
        reader = None   # read(offset, n) of NAME.bin into the weight buffer
        if wbytes:
            wbuf = memoryview(self._arena)[wstart:]
            self._wname = module.WEIGHTS_FILE
            reader = self._open_weights(_beside(module, module.WEIGHTS_FILE), size, wbuf)
        elif size is not None and len(self._weights) != size:
            raise ValueError("model %s: WEIGHTS is %d bytes, baked as %d: the module is damaged; "
                             "bake it again" % (self.name, len(self._weights), size))
        if verify and not self.verify():
            raise ValueError("model %s: its weights%s do not match the checksum baked with them: "
                             "damaged or from another bake" % (
                                 self.name, " (%s)" % self._wname if wbytes else ""))
        if native:
            self._walker(module, native, bytes(kmap), wbytes, resolved, kernels, reader)
        else:
            # The C walker checks every record at load; the Python tiers index
            # the buffers unchecked (uctypes, viper pointers), so check here once.
            from .calls import _check_tensors, _checks
            _check_tensors(self, wbytes)
            self._calls = self._op_calls(module.OPS, module.OP_FORMATS, resolved, None, wbytes,
                                         _checks(module.OP_KERNELS))
            if wbytes:
                self._reader = reader
        self._io = self._pack_io(module)
        # State tensors (SVDF/LSTM), packed <HB (tensor, fill byte); modules
        # without state have no VARIABLES.
        v = getattr(module, "VARIABLES", None)
        if v:
            self._variables = v
        # <H tensor + its initial bytes, for state that starts from varying values
        # (resource variables); absent from most modules.
        v = getattr(module, "VARIABLE_VALUES", None)
        if v:
            self._variable_values = v
        self.reset()

    def _pack_io(self, module):
        # The inputs and outputs in one bytes object (the module's tuples cost a
        # board ~300 bytes): their counts, then per input then output _IO_ENTRY
        # (tensor id, scale, zero point, rank) and the dimensions ("<I" each).
        ids = tuple(module.INPUTS) + tuple(module.OUTPUTS)
        shapes = tuple(module.INPUT_SHAPES) + tuple(module.OUTPUT_SHAPES)
        quant = module.IO_QUANT
        if len(quant) != IO_QUANT_SIZE * len(ids) or len(shapes) != len(ids) or len(ids) > 255:
            raise ValueError("model %s: IO_QUANT or the shapes do not match its inputs and outputs: "
                             "the module is damaged; bake it again" % self.name)
        io = bytes((len(module.INPUTS), len(module.OUTPUTS)))
        for k, t in enumerate(ids):
            self._check_id(t)
            scale, zp = struct.unpack_from(IO_QUANT, quant, IO_QUANT_SIZE * k)
            io += struct.pack(_IO_ENTRY, t, scale, zp, len(shapes[k]))
            for d in shapes[k]:
                io += struct.pack("<I", d)
        return io

    def _io_entry(self, kind, i):
        # (tensor id, scale, zero point, shape) of input (kind 0) or output (kind 1) i
        io = self._io
        at, skip = 2, i + (io[0] if kind else 0)
        while True:
            t, scale, zp, rank = struct.unpack_from(_IO_ENTRY, io, at)
            if not skip:
                return t, scale, zp, struct.unpack_from("<%dI" % rank, io, at + _IO_ENTRY_SIZE)
            at += _IO_ENTRY_SIZE + 4 * rank
            skip -= 1

    def _io_list(self, kind, field):
        # field 0..3 of each input (kind 0) or output (1) entry: tensor, scale, zero
        # point, shape; 4: the tensor's dtype.
        out = []
        for i in range(self._io[kind]):
            e = self._io_entry(kind, i)
            out.append(self._meta(e[0])[3] if field == 4 else e[field])
        return out

    # Input/output metadata, derived when asked (a board keeps no lists for them).
    input_shape = property(lambda self: self._io_list(0, 3))
    output_shape = property(lambda self: self._io_list(1, 3))
    input_dtype = property(lambda self: self._io_list(0, 4))
    output_dtype = property(lambda self: self._io_list(1, 4))
    input_scale = property(lambda self: self._io_list(0, 1))
    output_scale = property(lambda self: self._io_list(1, 1))
    input_zero_point = property(lambda self: self._io_list(0, 2))
    output_zero_point = property(lambda self: self._io_list(1, 2))

    def _open_weights(self, path, size, wbuf):
        # NAME.bin: its size checked against the baked one (one seek), so a
        # truncated or empty file fails here, not mid-invoke.
        try:
            f = open(path, "rb")
        except OSError as e:
            raise OSError("model %s: cannot open its weights file %s (%s); bake --weights file "
                          "writes it next to %s.py: copy both" % (self.name, path, e, self.name))
        self._wfile = f
        have = f.seek(0, 2)
        if have is None:   # a stream whose seek returns nothing
            have = f.tell()
        if have != size:
            raise ValueError("model %s: %s is %d bytes, baked as %s: truncated or from another "
                             "bake; copy it again" % (self.name, self._wname, have, size))
        return _reader(f, wbuf, self.name, self._wname)

    def _check_id(self, t):
        if not isinstance(t, int) or not 0 <= t < len(self._tensors) // TENSOR_RECORD_SIZE:
            raise ValueError("model %s: tensor id %r out of range (%d records): the module is "
                             "damaged; bake it again" % (self.name, t, len(self._tensors) // TENSOR_RECORD_SIZE))

    def _walker(self, module, native, kmap, wbytes, resolved, kernels, reader):
        # The native tier: a Program (the C walker's view of the buffers). When every
        # kernel is native, calling the Program runs every record, reading each
        # record's weights from NAME.bin first (file mode) through reader; as the
        # instance's invoke, m.invoke() then runs no Python bytecode at all.
        wbuf = memoryview(self._arena)[(self.arena_size + 7) & ~7:] if wbytes else None
        arena = self._arena if wbuf is None else memoryview(self._arena)[:self.arena_size]
        if 0xFF not in kmap:
            self._prog = prog = native.program(self._tensors, module.OPS, module.OP_FORMATS, kmap,
                                               arena, self._weights, wbuf, reader)
            native.check(prog, 0, -1)   # bad records fail here, at load
            self.invoke = prog
            return
        from .calls import walker_steps
        walker_steps(self, module, native, kmap, arena, wbuf, resolved, kernels, reader)

    def _op_calls(self, ops, op_formats, resolved, cache=None, streaming=False, progs=None):
        # (fn, args, convention) per kernel call: calls.py
        from .calls import _op_calls
        return _op_calls(self, ops, op_formats, resolved, cache, streaming, progs)

    def _view(self, tensor_id, convention=dispatch.PURE, skip=0, nbytes=None, pos=0):
        # tensor_id's bytes (or nbytes of them from skip: a band's rows)
        where, offset, size, dtype = self._meta(tensor_id)
        if nbytes is None:
            nbytes = size
        elif skip + nbytes > size:
            raise ValueError("model %s: op record at byte %d gives a band rows beyond its tensor: "
                             "the module is damaged; bake it again" % (self.name, pos))
        offset += skip
        buf = self._weights if where == 1 else self._arena
        if where == 2:
            offset += (self.arena_size + 7) & ~7   # the weight buffer follows the arena
        if convention == dispatch.PURE:
            return typed_view(buf, offset, nbytes, dtype)
        return memoryview(buf)[offset:offset + nbytes]

    def _meta(self, tensor_id):
        # (where, offset, nbytes, dtype)
        kind, offset, nbytes = tensor_record(self._tensors, tensor_id)
        return (kind & 3, offset, nbytes, DTYPES[kind >> 2])

    def _quant(self, kind, i):
        # (scale, zero point) of input (kind 0) or output (kind 1) i
        return self._io_entry(kind, i)[1:3]

    def _bytes_view(self, tensor_id):
        _where, offset, nbytes = self._meta(tensor_id)[:3]
        return memoryview(self._arena)[offset:offset + nbytes]

    def _tensor(self, kind, i):
        # the tensor record of input/output i (kind 0/1), or a ValueError naming the count
        n = self._io[kind]
        if not isinstance(i, int) or not 0 <= i < n:
            raise ValueError("model %s has %d %s%s (index 0%s), not %r"
                             % (self.name, n, ("input", "output")[kind], "s" if n > 1 else "",
                                " to %d" % (n - 1) if n > 1 else "", i))
        return self._io_entry(kind, i)[0]

    def input_buffer(self, i=0):
        """Writable memoryview of input i's bytes, for zero-copy filling."""
        return self._bytes_view(self._tensor(0, i))

    def set_input(self, a, b=None, index=None):
        """Copy raw bytes into an input: set_input(i, data), or as TFLM's interpreter
        takes them, set_input(data, i) and set_input(data, index=i). data: bytes,
        bytearray, memoryview or array.array of exactly the input's byte length."""
        if b is None:
            data, i = a, index or 0
        elif isinstance(a, int):
            data, i = b, a
        else:
            data, i = a, b
        buf = self.input_buffer(i)
        if isinstance(data, int) or isinstance(data, str):
            raise TypeError("set_input takes bytes, bytearray, memoryview or array.array, not %s"
                            % type(data).__name__)
        if not isinstance(data, (bytes, bytearray)):
            data = bytes(data)   # the raw bytes of an array.array or typed memoryview
        if len(data) != len(buf):
            raise ValueError("input %d needs %d bytes (%s %s), got %d"
                             % (i, len(buf), self.input_dtype[i],
                                _shape_str(self.input_shape[i]), len(data)))
        buf[:] = data

    def input(self, i=0):
        """Input i's values as a typed array.array (a copy): 'b' int8, 'B' uint8,
        'h' int16, 'i' int32, 'f' float32. The arena reuses an input's bytes for later
        layers, so after invoke() they are no longer the input."""
        return self._typed(self._tensor(0, i))

    def output(self, i=0):
        """Output i's values as a typed array.array (a copy, valid after later invokes)."""
        return self._typed(self._tensor(1, i))

    def _typed(self, tid):
        import array
        return array.array(_CODES[self._meta(tid)[3]], bytearray(self._bytes_view(tid)))

    def top(self, k=1, i=0, dequantize=False):
        """The k largest values of output i, highest first, as (index, score) pairs;
        scores dequantized to floats when asked. With labels (bake --labels), the
        class name of index j is m.labels[j]."""
        tid = self._tensor(1, i)
        values = self._typed(tid)
        order = sorted(range(len(values)), key=lambda j: -values[j])[:k]
        if not dequantize:
            return [(j, values[j]) for j in order]
        dtype = self._meta(tid)[3]
        scale, zp = self._quant(1, i)
        if dtype == "f32":
            return [(j, values[j]) for j in order]
        return [(j, (values[j] - zp) * scale) for j in order]

    def __repr__(self):
        def io(kind):
            out = []
            for k in range(self._io[kind]):
                t, scale, zp, shape = self._io_entry(kind, k)
                dtype = self._meta(t)[3]
                q = " (scale %.6g, zero point %d)" % (scale, zp) if dtype != "f32" and scale else ""
                out.append("%s %s%s" % (dtype, _shape_str(shape), q))
            return ", ".join(out)
        return "<upyflow Model %s: %s tier, input %s, output %s, arena %d bytes>" % (
            self.name, self.tier, io(0), io(1), self.arena_size)

    def reset(self):
        """Put the state tensors back to their initial value, as TFLM's reset():
        the next invoke starts a new sequence."""
        v = self._variables
        arena = self._arena
        for k in range(0, len(v), 3):
            _where, offset, nbytes = self._meta(v[k] | (v[k + 1] << 8))[:3]
            fill = v[k + 2]
            for i in range(offset, offset + nbytes):
                arena[i] = fill
        v = self._variable_values
        k = 0
        while k < len(v):
            offset, nbytes = self._meta(v[k] | (v[k + 1] << 8))[1:3]
            arena[offset:offset + nbytes] = memoryview(v)[k + 2:k + 2 + nbytes]
            k += 2 + nbytes

    def invoke(self):
        steps = self._steps
        if steps is None:
            if self._wfile is not None:
                from .calls import _invoke_streaming
                return _invoke_streaming(self)
            for fn, args, convention in self._calls:   # pure and viper tiers
                if convention == 1:   # dispatch.FAST
                    fn(args)
                else:
                    fn(*args)
            return
        run, prog, pycalls = dispatch.native_module(self.tier).run, self._prog, self._pycalls
        j = 0
        for s in range(0, len(steps), 4):
            if steps[s + 3]:
                self._read(steps[s + 2], steps[s + 3])
            if steps[s + 1]:
                run(prog, steps[s], steps[s + 1])
            else:
                fn, args, convention = pycalls[j]
                j += 1
                if convention == 1:   # dispatch.FAST
                    fn(args)
                else:
                    fn(*args)

    def _read(self, off, n):
        # One layer's weights from NAME.bin into the weight buffer (the reader
        # _open_weights makes; None without a weights file).
        self._reader(off, n)

    def get_output(self, i=0):
        """Memoryview of output i's bytes (valid until the next invoke)."""
        return self._bytes_view(self._tensor(1, i))

    def predict(self, data):
        self.set_input(0, data)
        self.invoke()
        return self.get_output(0)

    def quantize_input(self, values, i=0):
        """Quantize floats into input i's buffer (int8/int16) or pack float32."""
        tid = self._tensor(0, i)
        _fill(self._view(tid, dispatch.PURE), (self._meta(tid)[3],) + self._quant(0, i),
              self.input_shape[i], values)

    def dequantize_output(self, i=0):
        """Output i as a list of floats."""
        tid = self._tensor(1, i)
        return _floats(self._view(tid, dispatch.PURE), (self._meta(tid)[3],) + self._quant(1, i),
                       self.output_shape[i])

    def verify(self):
        """Check the weights (inline or NAME.bin) against the checksum baked with them."""
        import binascii
        if self._wfile is None:
            return binascii.crc32(self._weights or b"") & 0xFFFFFFFF == self._weights_crc
        crc = 0
        self._wfile.seek(0)
        while True:
            chunk = self._wfile.read(1024)
            if not chunk:
                break
            crc = binascii.crc32(chunk, crc)
        return crc & 0xFFFFFFFF == self._weights_crc


try:
    import sys
    _CPYTHON = sys.implementation.name == "cpython"
except (ImportError, AttributeError):
    _CPYTHON = False


def _reader(f, wbuf, name, wname):
    # read(offset, n): n bytes of NAME.bin from offset into the weight buffer; a
    # short read (file changed since load, card error) raises before a kernel runs.
    # Not a Model method: the C walker holds it, and on CPython a Program -> Model
    # reference would be a cycle its collector cannot see. Its state as defaults:
    # one object on a board, where a closure costs a cell per variable.
    def read(off, n, f=f, wbuf=wbuf, name=name, wname=wname):
        f.seek(off)
        got = _readinto(f, wbuf, n)
        if got != n:
            raise OSError("model %s: %s read at offset %d gave %s of %d bytes: truncated or "
                          "changed since load" % (name, wname, off, got, n))
    return read


def _readinto(f, buf, n):
    # MicroPython streams take a length; CPython needs a (allocating) slice.
    if _CPYTHON:
        return f.readinto(memoryview(buf)[:n])
    return f.readinto(buf, n)


def _alloc(nbytes, name, weight_buffer):
    if not _CPYTHON:
        import gc
        gc.collect()   # the block then lands as low as the live objects allow
    try:
        return bytearray(nbytes)
    except MemoryError:
        raise MemoryError("model %s needs %d bytes of heap in one block for its arena%s, "
                          "more than the free heap" % (name, nbytes, (
                              " and its %d-byte weight buffer" % weight_buffer) if weight_buffer else ""))


def _beside(module, filename):
    # NAME.bin sits next to NAME.py/.mpy; MicroPython has no os.path.
    path = getattr(module, "__file__", "") or ""
    cut = path.rfind("/")
    return path[:cut + 1] + filename if cut >= 0 else filename


def _shape_str(shape):
    return "x".join(str(d) for d in shape)


def _count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _fill(view, meta, shape, values):
    dtype, scale, zp = meta
    n = _count(shape)
    if len(values) != n:
        raise ValueError("expected %d values for shape %s, got %d" % (n, _shape_str(shape), len(values)))
    if dtype == "f32":
        for k in range(n):
            view[k] = values[k]
        return
    if dtype == "bool":
        for k in range(n):
            view[k] = 1 if values[k] else 0
        return
    lo, hi = _RANGE[dtype]
    for k in range(n):
        q = values[k] / scale
        q = int(q + 0.5) if q >= 0 else -int(-q + 0.5)
        view[k] = min(max(q + zp, lo), hi)


def _floats(view, meta, shape):
    dtype, scale, zp = meta
    n = _count(shape)
    if dtype == "f32":
        return [view[k] for k in range(n)]
    if dtype == "bool":
        return [float(view[k]) for k in range(n)]
    return [(view[k] - zp) * scale for k in range(n)]


def tensor_record(tensors, i):
    """(kind, offset, nbytes) of tensor record i of TENSORS."""
    r = memoryview(tensors)[i * TENSOR_RECORD_SIZE:(i + 1) * TENSOR_RECORD_SIZE]
    return r[0] & 31, r[1] | r[2] << 8 | r[3] << 16, r[4] | r[5] << 8 | (r[0] >> 5) << 16

