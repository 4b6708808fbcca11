"""Offline arena planning: tensor lifetimes -> offsets in one buffer."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import kernel_spec
from .ir import DTYPE_SIZE, Graph
from .lower import Call

ALIGN = 4


@dataclass
class Buffer:
    tensor: int       # the storage tensor
    size: int
    first: int        # first call index that touches it
    last: int         # last call index that touches it
    offset: int = -1


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


# Orders of greedy placement (keys of a Buffer): biggest first, ties by first use, or
# longest-lived first.
def BY_SIZE(b: Buffer) -> tuple[int, ...]:
    return (-b.size, b.first, b.tensor)


def BY_SIZE_LONGEST(b: Buffer) -> tuple[int, ...]:
    return (-b.size, b.first - b.last, b.first, b.tensor)


ORDERS = (BY_SIZE, BY_SIZE_LONGEST)


def plan(graph: Graph, calls: list[Call], alias: dict[int, int],
         orders=ORDERS) -> tuple[dict[int, int], int, list[Buffer]]:
    """Greedy by size: biggest buffers first, each at the lowest offset free for its lifetime
    (in each of orders; the smallest arena).

    Returns ({storage tensor: offset}, arena size, buffers).
    """
    end = len(calls)
    spans: dict[int, list[int]] = {}

    def touch(t: int, i: int) -> None:
        t = graph.views[t][0] if t in graph.views else t
        t = alias.get(t, t)
        if graph.tensors[t].is_const or t in graph.scratch:   # (scratch: place_scratch, after)
            return
        span = spans.setdefault(t, [i, i])
        span[0], span[1] = min(span[0], i), max(span[1], i)

    for t in graph.inputs:
        touch(t, 0)
    for i, call in enumerate(calls):
        for t in call.tensors:
            touch(t, i)
    for t in graph.outputs:
        touch(t, end)
    for t in list(spans):
        if graph.tensors[t].variable:
            spans[t] = [0, end]   # state lives across invokes: its bytes are never shared
    buffers = [Buffer(t, _align(max(graph.tensors[t].nbytes, 1)), a, b) for t, (a, b) in spans.items()]
    # Greedy placement depends on the order; ties in size placed longest-lived first
    # can leave the holes the short-lived ones need (a banded CNN's band buffers): the
    # smaller arena of the two orders.
    best: tuple[int, dict[int, int]] | None = None
    for order in orders:
        offsets = _place(buffers, order)
        arena = max((b.offset + b.size for b in buffers), default=0)
        if best is None or arena < best[0]:
            best = (arena, offsets)
    assert best is not None
    for b in buffers:
        b.offset = best[1][b.tensor]
    return best[1], best[0], buffers


def _place(buffers: list[Buffer], order) -> dict[int, int]:
    """Each buffer, in the given order, at the lowest offset free for its lifetime."""
    placed: list[Buffer] = []
    for buf in sorted(buffers, key=order):
        live = sorted((p for p in placed if p.first <= buf.last and buf.first <= p.last),
                      key=lambda p: p.offset)
        offset = 0
        for p in live:
            if offset + buf.size <= p.offset:
                break
            offset = max(offset, p.offset + p.size)
        buf.offset = offset
        placed.append(buf)
    return {b.tensor: b.offset for b in buffers}


def place_scratch(graph: Graph, calls: list[Call], buffers: list[Buffer], arena: int,
                  also: Sequence[Call] = ()) -> dict[int, int]:
    """The optional scratch tensors (graph.scratch: {tensor: (bytes wanted, fewest worth
    having)}) where the planned arena is free during their calls, without growing it: each
    in the largest gap that the buffers live during its first to last call leave below
    `arena` (the lowest of equal ones), min(wanted, gap) bytes when that is at least the
    fewest, else none. Sets each tensor's shape to the words given and the size parameter of
    each call that takes it (in calls and in `also`, the band loops' calls on whole tensors;
    kernel_spec names it as the tensor's size); returns {tensor: offset}.
    """
    offsets: dict[int, int] = {}
    placed: list[Buffer] = []
    for t, (want, least) in sorted(graph.scratch.items()):
        users = [i for i, c in enumerate(calls) if t in c.tensors]
        size, offset = 0, 0
        if users and want:
            first, last = users[0], users[-1]
            live = sorted((b for b in list(buffers) + placed if b.first <= last and first <= b.last),
                          key=lambda b: b.offset)
            gap, at, end = 0, 0, 0
            for b in live + [Buffer(-1, 0, first, last, arena)]:
                if b.offset - end > gap:
                    gap, at = b.offset - end, end
                end = max(end, b.offset + b.size)
            size = min(want, gap) // ALIGN * ALIGN
            if size < max(least, ALIGN):
                size = 0
            else:
                offset = at
                placed.append(Buffer(t, size, first, last, offset))
        tensor = graph.tensors[t]
        tensor.shape = (size // DTYPE_SIZE[tensor.dtype],)
        offsets[t] = offset
        for c in list(calls) + list(also):
            spec = kernel_spec.get(c.kernel)
            for slot, tid in zip(spec.tensors, c.tensors):
                if tid == t:
                    assert slot.size in [p.name for p in spec.params], (c.kernel, slot.name)
                    c.params[spec.param_index(slot.size)] = tensor.size
    return offsets
