# The Python tiers' view of a baked model's op records (imported only when a model
# has kernels that Python runs: the pure and viper tiers, or a kernel the native
# table lacks): the records parsed, band loops expanded band by band, tensor ids
# made views. The format itself is defined in model.py.

import struct
from .model import (BAND, BAND_HEADER, BAND_HEADER_SIZE, BAND_LAYER, BAND_LAYER_SIZE, DTYPES,
                    MAX_BAND_LAYERS, NO_DILATION, SEGMENT_ALIGN, TENSOR_RECORD_SIZE, WHERE,
                    tensor_record)


def _check_tensors(self, wbytes):
    # Every tensor record within its buffer: arena, weights, weight buffer.
    t = self._tensors
    sizes = (self.arena_size, 0 if self._weights is None else len(self._weights), wbytes)
    for k in range(0, len(t) - TENSOR_RECORD_SIZE + 1, TENSOR_RECORD_SIZE):
        kind, offset, nbytes = tensor_record(t, k // TENSOR_RECORD_SIZE)
        where = kind & 3
        if where > 2 or kind >> 2 >= len(DTYPES) or offset + nbytes > sizes[where]:
            raise ValueError("model %s: tensor record %d (%s, offset %d, %d bytes) is outside "
                             "its %d-byte buffer: the module is damaged; bake it again"
                             % (self.name, k // TENSOR_RECORD_SIZE, (WHERE + ("?",))[min(where, 3)],
                                offset, nbytes, sizes[min(where, 2)]))


def _damaged(self, pos, what):
    return ValueError("model %s: op record at byte %d %s: the module is damaged; bake it again"
                      % (self.name, pos, what))


def _op_end(self, ops, pos, op_formats, n_kernels):
    # Where the plain op record at pos ends (op_formats: struct_formats); its
    # kernel and format bytes checked.
    if pos + 2 > len(ops) or ops[pos] >= n_kernels or ops[pos + 1] >= len(op_formats):
        raise _damaged(self, pos, "names no kernel/format")
    end = pos + 2 + struct.calcsize(op_formats[ops[pos + 1]][0])
    if end > len(ops):
        raise _damaged(self, pos, "is cut short")
    return end


def _record(self, ops, pos, op_formats, n_kernels):
    # The record at pos: (its op records' positions, its end, band loop header or
    # None, geometry per layer); a plain op is a record of one op.
    if ops[pos] != BAND:
        return (pos,), _op_end(self, ops, pos, op_formats, n_kernels), None, None
    if pos + 1 + BAND_HEADER_SIZE > len(ops):
        raise _damaged(self, pos, "is cut short")
    head = struct.unpack_from(BAND_HEADER, ops, pos + 1)
    g = pos + 1 + BAND_HEADER_SIZE
    at = g + head[0] * BAND_LAYER_SIZE
    if not 0 < head[0] <= MAX_BAND_LAYERS or head[1] == 0 or at > len(ops):
        raise _damaged(self, pos, "is a malformed band loop")
    layers, geoms = [], []
    for k in range(head[0]):
        geoms.append(struct.unpack_from(BAND_LAYER, ops, g + k * BAND_LAYER_SIZE))
        layers.append(at)
        at = _op_end(self, ops, at, op_formats, n_kernels)
    return layers, at, head, geoms


def _checks(names):
    # The load check program of each kernel of OP_KERNELS (None: none). The table
    # (per kernel: name length, name, "<H" program length, program) is dropped after:
    # a board keeps only the programs its model uses, and those only while loading.
    import sys
    from .load_checks import CHECKS as t
    sys.modules.pop("upyflow.load_checks", None)
    want = [n.encode() for n in names]
    progs = [None] * len(names)
    at = 0
    while at < len(t):
        n = t[at]
        start = at + 3 + n
        end = start + (t[start - 2] | t[start - 1] << 8)
        name = t[at + 1:at + 1 + n]
        for j in range(len(want)):
            if want[j] == name:
                progs[j] = t[start:end]
        at = end
    return progs


def _nbytes(self, args, j, lens):
    # bytes of the op's tensor j: lens[j], else its tensor record's
    if lens:
        return lens[j]
    return tensor_record(self._tensors, args[j])[2]


def check_op(self, prog, args, nt, pos, lens=None):
    # The call of the op record at pos against its kernel's spec (load_checks.py,
    # written by upyflow_tools/gen_load_checks.py, which documents the program):
    # parameter ranges, then each tensor's bytes (lens, default: its record's)
    # against what its parameters make the kernel touch, as the C table does.
    if prog[0] != nt or prog[1] != len(args) - nt:
        raise _damaged(self, pos, "has the wrong number of tensors or parameters")
    st = []
    i, end = 2, len(prog)
    while i < end:
        c = prog[i]
        if c == 112:     # p
            st.append(args[nt + prog[i + 1]])
            i += 2
            continue
        if c == 77:      # M: a product of parameters
            v = 1
            for j in range(i + 2, i + 2 + prog[i + 1]):
                v *= args[nt + prog[j]]
            st.append(v)
            i += 2 + prog[i + 1]
            continue
        if c == 107:     # k
            st.append(prog[i + 1])
            i += 2
            continue
        if c == 71:      # G: lower bounds
            for j in range(i + 2, i + 2 + 2 * prog[i + 1], 2):
                lo = prog[j + 1]
                if args[nt + prog[j]] < (lo - 256 if lo > 127 else lo):
                    raise _damaged(self, pos, "has a parameter out of range")
            i += 2 + 2 * prog[i + 1]
            continue
        if c == 104:     # h: an upper bound
            if args[nt + prog[i + 1]] > struct.unpack_from("<i", prog, i + 2)[0]:
                raise _damaged(self, pos, "has a parameter out of range")
            i += 6
            continue
        if c == 83:      # S
            e = st.pop()
            n = st.pop() * e
            if n < 0 or n > _nbytes(self, args, prog[i + 1], lens):
                raise _damaged(self, pos, "gives a tensor shorter than its parameters need")
            i += 2
            continue
        if c == 84:      # T
            if not st.pop():
                raise _damaged(self, pos, "has a parameter out of range")
            i += 1
            continue
        if c == 75:      # K
            st.append(struct.unpack_from("<i", prog, i + 1)[0])
            i += 5
            continue
        if c == 69 or c == 73 or c == 87:   # E, I, W: from tensor t's length for n values
            n = st.pop()
            b = _nbytes(self, args, prog[i + 1], lens)
            if c == 87:
                v = 0 if n <= 0 else (b // n if b % n == 0 else -1)
            elif n <= 0 or b == n:
                v = 1
            else:
                v = 2 if b == 2 * n else (4 if c == 73 and b == 4 * n else 0)
            st.append(v)
            i += 2
            continue
        i += 1
        if c == 67:      # C
            v = st.pop()
            st.append(1 if v == 0 or v == 1 else (2 if v == 2 else (4 if v == 3 or v == 5 else 0)))
            continue
        b = st.pop()
        a = st.pop()
        if c == 63:      # ?: a if cond else b
            a = a if st.pop() else b
        elif c == 42:
            a = a * b
        elif c == 43:
            a = a + b
        elif c == 45:
            a = a - b
        elif c == 47 or c == 37:   # / %: C's int division (a zero divisor fails the check)
            if b == 0:
                raise _damaged(self, pos, "has a parameter out of range")
            q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
            a = q if c == 47 else a - q * b
        elif c == 38:
            a = a & b
        elif c == 60:
            a = a < b
        elif c == 62:
            a = a > b
        elif c == 91:
            a = a <= b
        elif c == 93:
            a = a >= b
        elif c == 61:
            a = a == b
        elif c == 33:
            a = a != b
        elif c == 65:
            a = a and b
        elif c == 79:
            a = a or b
        else:
            raise _damaged(self, pos, "has an unknown check")
        st.append(a)


def _op_calls(self, ops, op_formats, resolved, cache=None, streaming=False, progs=None):
    # op_formats: the module's OP_FORMATS table
    # (fn, args, convention) per kernel call (resolved: (fn, convention) per
    # kernel byte; a band loop gives a call per layer per band), tensor ids
    # made views: typed for pure kernels, raw bytes for fast ones, each made
    # once (cache: one slot per tensor and convention, allocated once: a
    # growing dict needs more heap). streaming: each record's calls after the
    # bytes of its segment (an int: read them first; see segment_bytes).
    if cache is None:
        cache = [None] * (2 * (len(self._tensors) // TENSOR_RECORD_SIZE))
    op_formats = struct_formats(op_formats)
    calls = []
    pos = 0
    while pos < len(ops):
        layers, end, head, geoms = _record(self, ops, pos, op_formats, len(resolved))
        per = []   # per layer: fn, convention, args with tensor ids
        for at in layers:
            fmt, nt = op_formats[ops[at + 1]]
            args = list(struct.unpack_from(fmt, ops, at + 2))
            for j in range(nt):
                self._check_id(args[j])
            prog = progs[ops[at]] if progs else None
            if prog is not None and head is None:   # a band loop's layers: per band
                check_op(self, prog, args, nt, at)
            per.append(resolved[ops[at]] + (args, nt, prog))
        if streaming:
            calls.append(segment_bytes(self, [p[2][:p[3]] for p in per]))
        if head is None:
            fn, convention, args, nt, _p = per[0]
            for j in range(nt):
                args[j] = _cached(self, cache, args[j], convention)
            calls.append((fn, tuple(args), convention))
        else:
            _band_calls(self, calls, per, head, geoms, cache, pos)
        pos = end
    return calls


def _band_calls(self, calls, per, head, geoms, cache, pos):
    # A band loop's calls, band by band: each layer on the rows band_rows gives
    # it, x and out views of those rows, its geometry params cut to match.
    for r0 in range(0, head[2], head[1]):
        rows = band_rows([p[2][p[3]:] for p in per], geoms, r0, head[1], head[2])
        for j, (fn, convention, args, nt, prog) in enumerate(per):
            g = geoms[j]
            if g[0] >= nt or g[1] >= nt or g[0] == g[1] or not g[8] or not g[9] or \
                    max(g[2:6] + g[7:8]) >= len(args) - nt or \
                    (g[6] != NO_DILATION and g[6] >= len(args) - nt):
                raise _damaged(self, pos, "has a band layer geometry outside its op")
            p = args[nt:]
            lo, hi = rows[j]
            a, b = rows_needed(p, g, lo, hi)
            if a >= b or lo >= hi:
                raise _damaged(self, pos, "gives a band no rows")
            band = list(args)
            for t in range(nt):
                if t != g[0] and t != g[1]:
                    band[t] = _cached(self, cache, args[t], convention)
            band[g[0]] = self._view(args[g[0]], convention, a * g[8] if j == 0 else 0,
                                    (b - a) * g[8], pos)
            band[g[1]] = self._view(args[g[1]], convention, lo * g[9] if j == len(per) - 1 else 0,
                                    (hi - lo) * g[9], pos)
            band[nt + g[7]] = a - (lo * p[g[5]] - p[g[7]])
            band[nt + g[2]], band[nt + g[3]] = b - a, hi - lo
            if prog is not None:
                lens = [self._meta(args[t])[2] for t in range(nt)]
                lens[g[0]], lens[g[1]] = (b - a) * g[8], (hi - lo) * g[9]
                check_op(self, prog, band, nt, pos, lens)
            calls.append((fn, tuple(band), convention))


def _cached(self, cache, t, convention):
    key = t * 2 + (1 if convention else 0)   # raw views serve FAST and VIPER
    v = cache[key]
    if v is None:
        v = cache[key] = self._view(t, convention)
    return v


def segment_bytes(self, ids):
    """Bytes of NAME.bin a record reads into the weight buffer (ids: its ops' tensor
    ids): where its furthest weight-buffer tensor ends (model.py SEGMENT_ALIGN)."""
    n = 0
    for layer in ids:
        for t in layer:
            self._check_id(t)
            where, offset, nbytes, _dtype = self._meta(t)
            if where == 2 and offset + nbytes > n:
                n = offset + nbytes
    return n


def _invoke_streaming(self):
    # pure and viper tiers, weights from NAME.bin: an int in the calls is the
    # bytes of the segment of the record whose calls follow, read first
    off = 0
    for call in self._calls:
        if isinstance(call, int):
            if call:
                self._read(off, call)
            off = (off + call + SEGMENT_ALIGN - 1) & -SEGMENT_ALIGN
            continue
        fn, args, convention = call
        if convention == 1:   # dispatch.FAST
            fn(args)
        else:
            fn(*args)


def walker_steps(self, module, native, kmap, arena, wbuf, resolved, kernels, reader):
    # The native tier with a kernel the native table lacks: steps of 4 ints: op
    # record offset, native records to run (0: the next Python call instead), file
    # offset and bytes to read first (Model.invoke runs them).
    ops, formats = module.OPS, struct_formats(module.OP_FORMATS)
    records = []   # (start, end, op record positions) per record
    pos = 0
    while pos < len(ops):
        layers, end, _h, _g = _record(self, ops, pos, formats, len(kmap))
        records.append((pos, end, layers))
        pos = end
    self._prog = prog = native.program(self._tensors, ops, module.OP_FORMATS, kmap, arena,
                                       self._weights, wbuf)
    steps, pycalls = [], []
    cache = [None] * (2 * (len(self._tensors) // TENSOR_RECORD_SIZE))
    progs = _checks(module.OP_KERNELS)
    at = 0   # where the next segment starts in NAME.bin
    for pos, end, layers in records:
        off, n = 0, 0
        if wbuf is not None:
            fmts = [formats[ops[p + 1]] for p in layers]
            n = segment_bytes(self, [struct.unpack_from(f, ops, p + 2)[:nt] for (f, nt), p in zip(fmts, layers)])
            off, at = at, (at + n + SEGMENT_ALIGN - 1) & -SEGMENT_ALIGN
        if any(kmap[ops[p]] == 0xFF for p in layers):   # a Python call (pure tier) or more
            for p in layers:   # a band loop's native layers too
                if resolved[ops[p]] is None:
                    resolved[ops[p]] = kernels[module.OP_KERNELS[ops[p]]]
            calls = _op_calls(self, ops[pos:end], module.OP_FORMATS, resolved, cache, progs=progs)
            pycalls += calls
            for j in range(len(calls)):
                steps += (pos, 0, off, n) if j == 0 else (pos, 0, 0, 0)
        elif n or not steps or steps[-3] == 0:   # a new native run
            steps += (pos, 1, off, n)
        else:
            steps[-3] += 1
    for s in range(0, len(steps), 4):   # bad records fail here, at load
        if steps[s + 1]:
            native.check(prog, steps[s], steps[s + 1])
    import array
    self._steps = array.array("i", steps)
    self._pycalls = pycalls
    if reader is not None:
        self._reader = reader


def struct_formats(table):
    """(struct format, tensor count) per entry of an OP_FORMATS table: "<", the count,
    "B" or "H" for the ids, then the param kinds."""
    out, at = [], 0
    while at < len(table):
        if at + 3 > len(table) or table[at + 1] not in (1, 2) or at + 3 + table[at + 2] > len(table):
            raise ValueError("OP_FORMATS is cut short or malformed: the module is damaged; bake it again")
        kinds = bytes(table[at + 3:at + 3 + table[at + 2]]).decode()
        for k in kinds:
            if k not in "bhif":
                raise ValueError("OP_FORMATS holds a kind %r: the module is damaged; bake it again" % k)
        out.append(("<%d%s%s" % (table[at], "B" if table[at + 1] == 1 else "H", kinds), table[at]))
        at += 3 + table[at + 2]
    return out


def rows_needed(p, g, lo, hi):
    """Input rows [a, b) that output rows [lo, hi) of a row-local layer read: p its params,
    g its band-loop geometry (BAND_LAYER: positions of in_h, out_h, k_h, s_h, d_h, pad_h
    among p at g[2:8]). The bake cuts bands with it too (upyflow_tools/patches.py)."""
    d = p[g[6]] if g[6] != NO_DILATION else 1
    first = lo * p[g[5]] - p[g[7]]
    last = (hi - 1) * p[g[5]] - p[g[7]] + (p[g[4]] - 1) * d
    return max(0, first), min(p[g[2]], last + 1)


def band_rows(params, geoms, r0, band, height):
    """Output rows [lo, hi) of each layer of a band loop for the band whose last layer
    computes rows r0 .. r0 + band: each layer makes the rows the next one reads."""
    rows = [(r0, min(height, r0 + band))]
    for k in range(len(params) - 1, 0, -1):
        rows.append(rows_needed(params[k], geoms[k], rows[-1][0], rows[-1][1]))
    rows.reverse()
    return rows
