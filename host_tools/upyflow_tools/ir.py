"""The internal graph every reader produces and every later stage consumes."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from upyflow_tools import BakeError

# f16 exists only at bake time (fp16 weights, folded into float32 constants).
DTYPE_SIZE = {"i8": 1, "u8": 1, "i16": 2, "i32": 4, "i64": 8, "f32": 4, "bool": 1, "f16": 2,
              "u32": 4, "u64": 8}
NP_DTYPE = {"i8": np.int8, "u8": np.uint8, "i16": np.int16, "i32": np.int32,
            "i64": np.int64, "f32": np.float32, "bool": np.bool_, "f16": np.float16,
            "u32": np.uint32, "u64": np.uint64}


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str                      # 'i8', 'i16', 'i32', 'f32', ...
    scale: list[float] = field(default_factory=list)   # empty: not quantized
    zero_point: list[int] = field(default_factory=list)
    quantized_dimension: int = 0
    data: np.ndarray | None = None  # constant tensors only
    # A variable tensor (SVDF/LSTM state) keeps its value across invokes: the
    # planner gives it arena bytes of its own and Model.reset() re-initializes it.
    variable: bool = False
    # a variable's initial bytes (resource variables: the CALL_ONCE init value);
    # None: TFLM's default, int8 at the zero point and others 0
    initial: bytes | None = None
    # stored sparse in the file (TFLite SparsityParameters); data holds it densified
    sparse: bool = False

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def const_data(self) -> np.ndarray:
        """data of a tensor the caller knows is constant (lowerings check with need_const or
        is_const first); a run-time tensor here is a bug, named by a one-line BakeError."""
        if self.data is None:
            raise BakeError("tensor %r is computed at run time where a constant is needed" % self.name)
        return self.data

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.size * DTYPE_SIZE[self.dtype]

    @property
    def zp(self) -> int:
        return self.zero_point[0] if self.zero_point else 0

    @property
    def sc(self) -> float:
        return self.scale[0] if self.scale else 0.0


@dataclass
class Op:
    kind: str                       # TFLite builtin name, e.g. 'CONV_2D'
    inputs: list[int]               # tensor indices, -1 for an absent optional input
    outputs: list[int]
    options: dict = field(default_factory=dict)


@dataclass
class Graph:
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]
    description: str = ""
    # how int8 conv/FC requantize: "tflm" (bit-exact with TFLite Micro) or "onnxruntime"
    rounding: str = "tflm"
    # what bake changed on the way that the user should know (dynamic batch set to 1, ...)
    notes: list[str] = field(default_factory=list)
    # Views: tensors whose bytes are a range of another tensor's, {view: (base, byte offset)};
    # the planner places only the base (patches.py runs layers on bands of rows this way).
    views: dict[int, tuple[int, int]] = field(default_factory=dict)
    # byte order of each input / output on the board ("NCHW", "NHWC", "NCL", "NLC" or ""),
    # set by a reader that chooses it (ONNX); empty: rank-4 tensors are NHWC (TFLite)
    input_layouts: list[str] = field(default_factory=list)
    output_layouts: list[str] = field(default_factory=list)
    # float MAXIMUM/MINIMUM give NaN for a NaN operand (onnxruntime's Max/Min/Clip; the ONNX
    # reader sets it), not TFLM's `u > w ? u : w`
    nan_maxmin: bool = False
    # Optional scratch tensors (kernel_spec: a written tensor sized by a parameter that may be
    # 0), {tensor: (bytes wanted at most, fewest bytes worth having)}: left out of the arena
    # plan, then given arena bytes free during their calls, or none (planner.place_scratch).
    scratch: dict[int, tuple[int, int]] = field(default_factory=dict)

    def add_tensor(self, tensor: Tensor) -> int:
        self.tensors.append(tensor)
        return len(self.tensors) - 1

    def add_view(self, base: int, row_lo: int, row_hi: int) -> int:
        """Rows [row_lo, row_hi) of a batch-1 NHWC tensor, as a tensor of their own."""
        t = self.tensors[base]
        row = t.nbytes // t.shape[1]
        view = self.add_tensor(Tensor("%s/rows%d-%d" % (t.name, row_lo, row_hi),
                                      (1, row_hi - row_lo) + tuple(t.shape[2:]), t.dtype,
                                      list(t.scale), list(t.zero_point)))
        self.views[view] = (base, row_lo * row)
        return view

    def add_const(self, name: str, data: np.ndarray, dtype: str) -> int:
        self.tensors.append(Tensor(name, tuple(data.shape), dtype,
                                   data=np.ascontiguousarray(data, NP_DTYPE[dtype])))
        return len(self.tensors) - 1
