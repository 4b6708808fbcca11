# A baked model at run time: one arena bytearray and the baked tables. On the
# native tier the C walker runs the packed op records itself (one call per
# invoke); the pure and viper tiers walk a list of (kernel, args) calls.

import struct
from .views import typed_view
from . import dispatch

FORMAT_VERSION = 2
# Tensor records as packed by upyflow_tools/emit.py (RECORD).
_RECORD = "<BBxxIIif"
_RECORD_SIZE = 20
_DTYPES = ("i8", "u8", "i16", "i32", "f32", "u32", "u64")
_RANGE = {"i8": (-128, 127), "u8": (0, 255), "i16": (-32768, 32767)}
# array.array type codes by dtype ('i': 32 bits on MicroPython's ports and CPython)
_CODES = {"i8": "b", "u8": "B", "i16": "h", "i32": "i", "f32": "f", "u32": "I", "u64": "Q"}


class Model:
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
        # class names of output 0 (bake --labels), or None
        self.labels = getattr(module, "LABELS", None)
        self._weights = module.WEIGHTS
        self._tensors = module.TENSORS
        self._wfile = self._wname = None
        # Kernel modules first: importing them needs transient heap that the big
        # blocks below would otherwise crowd out on a small board.
        self.tier, kernels = dispatch.table(tier or dispatch.default_tier())
        native = dispatch.native_module(self.tier)
        kmap = bytearray(len(module.OP_KERNELS))   # per OP_KERNELS entry: native index, 0xFF: Python
        resolved = [None] * len(kmap)   # (fn, convention) of the kernels Python calls
        for k, name in enumerate(module.OP_KERNELS):
            if name not in kernels:
                raise ValueError("baked model uses kernel %s, which this runtime lacks" % name)
            kmap[k] = native.kernel_index(name) & 0xFF if native else 0xFF
            if kmap[k] == 0xFF:
                resolved[k] = kernels[name]   # imports its module now, before the big block
        # Then one big block, before small objects fragment the heap: the arena,
        # and after it (weights streamed from NAME.bin) the buffer each layer's
        # weights are read into just before it runs.
        wstart = (module.ARENA_SIZE + 7) & ~7
        wbytes = module.WEIGHT_BUFFER if self._weights is None else 0
        self._arena = _alloc(wstart + wbytes, module.NAME, wbytes)
        self._wbuf = memoryview(self._arena)[wstart:] if wbytes else None
        self._weights_crc = module.WEIGHTS_CRC32
        segments = module.SEGMENTS if wbytes else None   # <II (file offset, bytes) per op
        size = getattr(module, "WEIGHTS_SIZE", None)   # modules baked before it lack it
        if wbytes:
            self._wname = module.WEIGHTS_FILE
            self._open_weights(_beside(module, module.WEIGHTS_FILE), size, segments, wbytes)
        elif size is not None and len(self._weights) != size:
            raise ValueError("model %s: WEIGHTS is %d bytes, baked as %d: the module is damaged; "
                             "bake it again" % (self.name, len(self._weights), size))
        if verify and not self.verify():
            raise ValueError("model %s: its weights%s do not match the checksum baked with them: "
                             "damaged or from another bake" % (
                                 self.name, " (%s)" % self._wname if wbytes else ""))
        if native:
            self._walker(module, native, bytes(kmap), segments, resolved)
        else:
            # The C walker checks every record at load; the Python tiers index
            # the buffers unchecked (uctypes, viper pointers), so check here once.
            self._check_tensors(wbytes)
            self._steps = self._run = None
            self._calls = self._op_calls(module.OPS, module.OP_FORMATS, resolved)
            self._segments = segments
        # (inputs, outputs, input shapes, output shapes): the attributes below derive from them
        self._io = (module.INPUTS, module.OUTPUTS, module.INPUT_SHAPES, module.OUTPUT_SHAPES)
        for ids in self._io[:2]:
            for t in ids:
                self._check_id(t)
        # State tensors (SVDF/LSTM), packed <HB (tensor, fill byte); modules
        # without state have no VARIABLES.
        self._variables = getattr(module, "VARIABLES", b"")
        # <H tensor + its initial bytes, for state that starts from varying values
        # (resource variables); absent from most modules.
        self._variable_values = getattr(module, "VARIABLE_VALUES", b"")
        self.reset()

    # Input/output metadata, derived when asked (a board keeps no lists for them).
    @property
    def input_shape(self):
        return list(self._io[2])

    @property
    def output_shape(self):
        return list(self._io[3])

    @property
    def input_dtype(self):
        return [self._meta(i)[3] for i in self._io[0]]

    @property
    def input_scale(self):
        return [self._meta(i)[4] for i in self._io[0]]

    @property
    def input_zero_point(self):
        return [self._meta(i)[5] for i in self._io[0]]

    @property
    def output_dtype(self):
        return [self._meta(i)[3] for i in self._io[1]]

    @property
    def output_scale(self):
        return [self._meta(i)[4] for i in self._io[1]]

    @property
    def output_zero_point(self):
        return [self._meta(i)[5] for i in self._io[1]]

    def _open_weights(self, path, size, segments, wbytes):
        # NAME.bin: its size checked against what the segments read (one seek),
        # so a truncated or empty file fails here, not mid-invoke.
        try:
            f = open(path, "rb")
        except OSError as e:
            raise OSError("model %s: cannot open its weights file %s (%s); bake --weights file "
                          "writes it next to %s.py: copy both" % (self.name, path, e, self.name))
        self._wfile = f
        have = f.seek(0, 2)
        if have is None:   # a stream whose seek returns nothing
            have = f.tell()
        need = 0
        for k in range(0, len(segments) - 7, 8):
            off, n = struct.unpack_from("<II", segments, k)
            if n > wbytes:
                raise ValueError("model %s: a layer reads %d bytes of %s into a %d-byte weight "
                                 "buffer: the module is damaged" % (self.name, n, self._wname, wbytes))
            if off + n > need:
                need = off + n
        if (size is not None and have != size) or have < need:
            raise ValueError("model %s: %s is %d bytes, baked as %d: truncated or from another "
                             "bake; copy it again" % (self.name, self._wname, have,
                                                      size if size is not None else need))

    def _check_tensors(self, wbytes):
        # Every tensor record within its buffer: arena, weights, weight buffer.
        t = self._tensors
        sizes = (self.arena_size, 0 if self._weights is None else len(self._weights), wbytes)
        for k in range(0, len(t) - _RECORD_SIZE + 1, _RECORD_SIZE):
            where, dtype, offset, nbytes = struct.unpack_from("<BBxxII", t, k)
            if where > 2 or dtype >= len(_DTYPES) or offset + nbytes > sizes[where]:
                raise ValueError("model %s: tensor record %d (%s, offset %d, %d bytes) is outside "
                                 "its %d-byte buffer: the module is damaged; bake it again"
                                 % (self.name, k // _RECORD_SIZE,
                                    ("arena", "weights", "weight buffer", "?")[min(where, 3)],
                                    offset, nbytes, sizes[min(where, 2)]))

    def _check_id(self, t):
        if not isinstance(t, int) or not 0 <= t < len(self._tensors) // _RECORD_SIZE:
            raise ValueError("model %s: tensor id %r out of range (%d records): the module is "
                             "damaged; bake it again" % (self.name, t, len(self._tensors) // _RECORD_SIZE))

    def _walker(self, module, native, kmap, segments, resolved):
        # The native tier: a Program (the C walker's view of the buffers) and, when
        # Python must act between ops (read a layer's weights from NAME.bin, or run
        # a kernel the native table lacks), steps of 4 ints: op record offset,
        # native ops to run (0: the next Python call instead), file offset and bytes
        # to read first.
        formats = b""
        sizes = []
        for fmt in module.OP_FORMATS:   # "<nH" then "i"/"f" per param (emit.py pack_calls)
            h = fmt.index("H")
            nt, kinds = int(fmt[1:h]), fmt[h + 1:]
            formats += bytes((nt, len(kinds))) + kinds.encode()
            sizes.append(2 + 2 * nt + 4 * len(kinds))
        ops = module.OPS
        arena = self._arena if self._wbuf is None else memoryview(self._arena)[:self.arena_size]
        self._prog = prog = native.program(self._tensors, ops, formats, kmap, arena,
                                           self._weights, self._wbuf)
        self._run = native.run
        steps, pycalls, cache = [], None, None
        pos = k = 0
        while pos < len(ops):
            size = sizes[ops[pos + 1]]
            off, n = struct.unpack_from("<II", segments, 8 * k) if segments else (0, 0)
            if kmap[ops[pos]] == 0xFF:   # no native kernel: a Python call (pure tier)
                if pycalls is None:
                    pycalls, cache = [], [None] * (2 * (len(self._tensors) // _RECORD_SIZE))
                pycalls += self._op_calls(ops[pos:pos + size], module.OP_FORMATS, resolved, cache)
                steps += (pos, 0, off, n)
            elif n or not steps or steps[-3] == 0:   # a new native run
                steps += (pos, 1, off, n)
            else:
                steps[-3] += 1
            pos += size
            k += 1
        for s in range(0, len(steps), 4):   # bad records fail here, at load
            if steps[s + 1]:
                native.check(prog, steps[s], steps[s + 1])
        if len(steps) == 4 and steps[1] and not steps[3]:
            # The usual case: calling the Program runs every op. As the instance's
            # invoke, m.invoke() then runs no Python bytecode at all.
            self._steps = None
            self.invoke = prog
        else:
            import array
            self._steps = array.array("i", steps)
        self._pycalls = pycalls

    def _op_calls(self, ops, op_formats, resolved, cache=None):
        # (fn, args, convention) per op record (resolved: (fn, convention) per
        # kernel byte), tensor ids made views: typed for pure kernels, raw bytes
        # for fast ones, each made once (cache: one slot per tensor and
        # convention, allocated once: a growing dict needs more heap).
        if cache is None:
            cache = [None] * (2 * (len(self._tensors) // _RECORD_SIZE))
        calls = []
        pos = 0
        while pos < len(ops):   # records packed by upyflow_tools/emit.py pack_calls
            if pos + 2 > len(ops) or ops[pos] >= len(resolved) or ops[pos + 1] >= len(op_formats):
                raise ValueError("model %s: op record at byte %d names no kernel/format: the "
                                 "module is damaged; bake it again" % (self.name, pos))
            fn, convention = resolved[ops[pos]]
            fmt = op_formats[ops[pos + 1]]
            if pos + 2 + struct.calcsize(fmt) > len(ops):
                raise ValueError("model %s: op record at byte %d is cut short: the module is "
                                 "damaged; bake it again" % (self.name, pos))
            args = list(struct.unpack_from(fmt, ops, pos + 2))
            pos += 2 + struct.calcsize(fmt)
            for k in range(int(fmt[1:fmt.index("H")])):   # the leading tensor ids -> views
                self._check_id(args[k])
                key = args[k] * 2 + convention
                v = cache[key]
                if v is None:
                    v = cache[key] = self._view(args[k], convention)
                args[k] = v
            calls.append((fn, tuple(args), convention))
        return calls

    def _view(self, tensor_id, convention=dispatch.PURE):
        where, offset, nbytes, dtype = self._meta(tensor_id)[:4]
        buf = self._weights if where == 1 else self._arena
        if where == 2:
            offset += (self.arena_size + 7) & ~7   # the weight buffer follows the arena
        if convention == dispatch.PURE:
            return typed_view(buf, offset, nbytes, dtype)
        return memoryview(buf)[offset:offset + nbytes]

    def _meta(self, tensor_id):
        # (where, offset, nbytes, dtype, scale, zero point)
        r = struct.unpack_from(_RECORD, self._tensors, tensor_id * _RECORD_SIZE)
        return (r[0], r[2], r[3], _DTYPES[r[1]], r[5], r[4])

    def _bytes_view(self, tensor_id):
        _where, offset, nbytes = self._meta(tensor_id)[:3]
        return memoryview(self._arena)[offset:offset + nbytes]

    def _tensor(self, kind, i):
        # the tensor record of input/output i (kind 0/1), or a ValueError naming the count
        ids = self._io[kind]
        if not isinstance(i, int) or not 0 <= i < len(ids):
            raise ValueError("model %s has %d %s%s (index 0%s), not %r"
                             % (self.name, len(ids), ("input", "output")[kind], "s" if len(ids) > 1 else "",
                                " to %d" % (len(ids) - 1) if len(ids) > 1 else "", i))
        return ids[i]

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
        _w, _o, _n, dtype, scale, zp = self._meta(tid)
        if dtype == "f32":
            return [(j, values[j]) for j in order]
        return [(j, (values[j] - zp) * scale) for j in order]

    def __repr__(self):
        def io(kind):
            out = []
            for k, t in enumerate(self._io[kind]):
                _w, _o, _n, dtype, scale, zp = self._meta(t)
                shape = self._io[2 + kind][k]
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
            if self._run is not None:
                return self._run(self._prog, 0, -1)   # native: every op in one call
            if self._wfile is not None:
                return self._invoke_streaming()
            for fn, args, convention in self._calls:   # pure and viper tiers
                if convention:
                    fn(args)
                else:
                    fn(*args)
            return
        run, prog, pycalls = self._run, self._prog, self._pycalls
        j = 0
        for s in range(0, len(steps), 4):
            if steps[s + 3]:
                self._read(steps[s + 2], steps[s + 3])
            if steps[s + 1]:
                run(prog, steps[s], steps[s + 1])
            else:
                fn, args, convention = pycalls[j]
                j += 1
                if convention:
                    fn(args)
                else:
                    fn(*args)

    def _read(self, off, n):
        # One layer's weights from NAME.bin into the weight buffer; a short read
        # (file changed since load, card error) raises before a kernel runs.
        f = self._wfile
        f.seek(off)
        got = _readinto(f, self._wbuf, n)
        if got != n:
            raise OSError("model %s: %s read at offset %d gave %s of %d bytes: truncated or "
                          "changed since load" % (self.name, self._wname, off, got, n))

    def _invoke_streaming(self):
        # pure and viper tiers, weights from NAME.bin
        k = 0
        for fn, args, convention in self._calls:
            off, n = struct.unpack_from("<II", self._segments, 8 * k)
            if n:
                self._read(off, n)
            if convention:
                fn(args)
            else:
                fn(*args)
            k += 1

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
        _fill(self._view(tid, dispatch.PURE), self._meta(tid), self.input_shape[i], values)

    def dequantize_output(self, i=0):
        """Output i as a list of floats."""
        tid = self._tensor(1, i)
        return _floats(self._view(tid, dispatch.PURE), self._meta(tid), self.output_shape[i])

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
    dtype, scale, zp = meta[3], meta[4], meta[5]
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


def _floats(view, meta, shape):
    dtype, scale, zp = meta[3], meta[4], meta[5]
    n = _count(shape)
    if dtype == "f32":
        return [view[k] for k in range(n)]
    return [(view[k] - zp) * scale for k in range(n)]
