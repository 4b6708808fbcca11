"""What every backend returns, and the run loop the two unicorn backends share."""
from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

PAGE = 0x1000


@dataclass
class Result:
    reads: list[bytes]
    fault: str | None = None          # None: the harness reached uf_halt
    instructions: int | None = None   # with count=True
    classes: Counter = field(default_factory=Counter)   # instructions per cost class
    cycles: int | None = None         # estimated from the backend's cycle model
    by_function: Counter = field(default_factory=Counter)   # estimated cycles per ELF function
    by_op: list = field(default_factory=list)   # IsaModel.invoke(per_op=True): per op record
    stack_peak: int | None = None     # bytes of stack used at the deepest point (painted stack)


def spans(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Page-aligned, merged (start, size) covering every (address, size)."""
    out: list[list[int]] = []
    for a, n in sorted((a & ~(PAGE - 1), (a + max(n, 1) + PAGE - 1) & ~(PAGE - 1)) for a, n in ranges):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], n)
        else:
            out.append([a, n])
    return [(a, e - a) for a, e in out]


class BlockCounter:
    """Counts translated-block executions and block-to-block transitions with one
    UC_HOOK_BLOCK callback; each block is disassembled and classified once, after
    the run, so counting costs one dict update per block executed."""

    def __init__(self) -> None:
        self.edges: Counter = Counter()   # (previous block id, this block's address)
        self.prev = 0

    def restart(self) -> None:
        """Forget what ran so far (the harness's uf_isa_mark: its load is not counted)."""
        self.edges.clear()
        self.prev = 0

    def hook(self, uc, address, size, _data):
        edges, key = self.edges, (self.prev, address)
        edges[key] = edges.get(key, 0) + 1
        self.prev = (address << 16) | size

    def tally(self, uc, classify, cost, functions=()) -> tuple[int, Counter, int]:
        """(instructions, Counter of classes, cycles). classify(code, address) gives
        [(class, extra)] per instruction of a block; cost(class, extra, taken) cycles;
        taken: for the block's last instruction, did control leave the straight line.
        functions: sorted (start, name) of the program's functions; each block's cycles
        then also go to the function it starts in (self.by_function)."""
        starts = [a for a, _ in functions]
        self.by_function: Counter = Counter()
        blocks: Counter = Counter()
        leave: Counter = Counter()   # executions of block id that ended in a jump
        for (prev, address), n in self.edges.items():
            blocks[prev] += n
            if prev and (prev >> 16) + (prev & 0xFFFF) != address:
                leave[prev] += n
        blocks.pop(0, None)
        # The last block executed has no successor edge.
        if self.prev:
            blocks[self.prev] += 1
        classes: Counter = Counter()
        insns = cycles = 0
        for block, n in blocks.items():
            address, size = block >> 16, block & 0xFFFF
            decoded = classify(bytes(uc.mem_read(address, size)), address)
            taken = leave.get(block, 0)
            insns += n * len(decoded)
            before = cycles
            for k, (cls, extra) in enumerate(decoded):
                if k == len(decoded) - 1 and cls.startswith("branch"):
                    for name, m in ((cls + "_taken", taken), (cls + "_not", n - taken)):
                        if m:
                            classes[name] += m
                    cycles += taken * cost(cls, extra, True) + (n - taken) * cost(cls, extra, False)
                else:
                    classes[cls] += n
                    cycles += n * cost(cls, extra, False)
            if starts:
                k = bisect.bisect_right(starts, address) - 1
                self.by_function[functions[k][1] if k >= 0 else "?"] += cycles - before
        return insns, classes, cycles
