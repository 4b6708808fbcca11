"""Build small TFLite models as bytes for tests (flatbuffers Builder + `tflite` schema builders)."""

from __future__ import annotations

import flatbuffers
import numpy as np
import tflite  # the package star-imports every generated module, so builders are tflite.<Table><Verb>

DTYPES = {  # name -> (TensorType, numpy little-endian dtype)
    "float32": (tflite.TensorType.FLOAT32, "<f4"),
    "int8": (tflite.TensorType.INT8, "i1"),
    "int16": (tflite.TensorType.INT16, "<i2"),
    "int32": (tflite.TensorType.INT32, "<i4"),
    "int64": (tflite.TensorType.INT64, "<i8"),
    "float16": (tflite.TensorType.FLOAT16, "<f2"),
    "uint8": (tflite.TensorType.UINT8, "u1"),
    "bool": (tflite.TensorType.BOOL, "?"),
    "uint32": (tflite.TensorType.UINT32, "<u4"),
}
_ACT = dict(fused_activation_function="NONE")
_CONV = dict(padding="SAME", stride_w=1, stride_h=1, dilation_w_factor=1, dilation_h_factor=1, **_ACT)
_POOL = dict(padding="VALID", stride_w=1, stride_h=1, filter_width=1, filter_height=1, **_ACT)
# opcode -> (options table, defaults). Defaults matter: the schema defaults stride=0 and beta=0.0.
OPS: dict[str, tuple[str | None, dict]] = {
    "FULLY_CONNECTED": ("FullyConnectedOptions", dict(weights_format="DEFAULT", keep_num_dims=False, **_ACT)),
    "CONV_2D": ("Conv2DOptions", _CONV),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptions", dict(depth_multiplier=1, **_CONV)),
    "AVERAGE_POOL_2D": ("Pool2DOptions", _POOL),
    "MAX_POOL_2D": ("Pool2DOptions", _POOL),
    "RESHAPE": ("ReshapeOptions", {}),
    "SOFTMAX": ("SoftmaxOptions", dict(beta=1.0)),
    "ADD": ("AddOptions", _ACT),
    "MUL": ("MulOptions", _ACT),
    "QUANTIZE": (None, {}),  # the converter writes no options for these either
    "DEQUANTIZE": (None, {}),
    # stateful sequence layers (the schema's rank default 0 is invalid)
    "SVDF": ("SVDFOptions", dict(rank=1, asymmetric_quantize_inputs=False, **_ACT)),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": (
        "UnidirectionalSequenceLSTMOptions",
        dict(
            fused_activation_function="TANH",
            cell_clip=0.0,
            proj_clip=0.0,
            time_major=False,
            asymmetric_quantize_inputs=False,
        ),
    ),
    # standalone activations (the schema's alpha default 0 makes LEAKY_RELU a RELU)
    "LEAKY_RELU": ("LeakyReluOptions", dict(alpha=0.2)),
    "HARD_SWISH": (None, {}),
    # the schema's stride default 0 is invalid
    "TRANSPOSE_CONV": ("TransposeConvOptions", dict(padding="SAME", stride_w=1, stride_h=1, **_ACT)),
    # element-wise and shape ops whose option tables do not follow the OPCODE -> OpcodeOptions rule
    "MEAN": ("ReducerOptions", dict(keep_dims=False)),
    "SUM": ("ReducerOptions", dict(keep_dims=False)),
    "REDUCE_MAX": ("ReducerOptions", dict(keep_dims=False)),
    "REDUCE_MIN": ("ReducerOptions", dict(keep_dims=False)),
    "REDUCE_PROD": ("ReducerOptions", dict(keep_dims=False)),
    "PADV2": ("PadV2Options", {}),
    "MAXIMUM": ("MaximumMinimumOptions", {}),
    "MINIMUM": ("MaximumMinimumOptions", {}),
    "BATCH_MATMUL": ("BatchMatMulOptions", dict(adj_x=False, adj_y=False, asymmetric_quantize_inputs=False)),
    "REDUCE_ALL": ("ReducerOptions", dict(keep_dims=False)),
    "REDUCE_ANY": ("ReducerOptions", dict(keep_dims=False)),
    "L2_POOL_2D": ("Pool2DOptions", _POOL),
    "ARG_MAX": ("ArgMaxOptions", dict(output_type="INT32")),
    "ARG_MIN": ("ArgMinOptions", dict(output_type="INT32")),
}
ENUMS = {  # option fields given as strings -> schema enum class
    "padding": tflite.Padding,
    "fused_activation_function": tflite.ActivationFunctionType,
    "weights_format": tflite.FullyConnectedOptionsWeightsFormat,
    "output_type": tflite.TensorType,
    "mode": tflite.MirrorPadMode,
}


def _camel(snake: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in snake.lower().split("_"))


def _fn(name: str):
    return getattr(tflite, name)


class ModelWriter:
    def __init__(self) -> None:
        self._tensors: list[dict] = []
        self._buffers: list[bytes] = [b""]  # buffer 0: the empty sentinel TFLite expects
        self._ops: list[tuple[int, list[int], list[int], str | None, dict]] = []
        self._opcodes: list[str] = []

    def tensor(
        self,
        shape: list[int],
        dtype: str,
        scale: float | list[float] | None = None,
        zero_point: int | list[int] | None = None,
        quantized_dimension: int = 0,
        data: np.ndarray | None = None,
        name: str = "",
        variable: bool = False,
        sparsity: dict | None = None,
    ) -> int:
        """`variable`: a state tensor (SVDF/LSTM) that keeps its value across invokes.
        `sparsity`: store the constant `data` sparse (sparse_encode's keywords), or, given
        sparse_encode's result (with dim_metadata), `data` is the stored values."""
        buf = 0  # activations share the empty buffer
        if data is not None:
            arr = np.asarray(data).astype(DTYPES[dtype][1])
            if sparsity is not None and "dim_metadata" in sparsity:
                pass  # the stored values and parameters as given (sparse_encode's form; damaged ones too)
            elif sparsity is not None:
                arr, sparsity = sparse_encode(arr.reshape(shape), **sparsity)
            else:
                assert arr.size == int(np.prod(shape)), (arr.shape, shape)
            self._buffers.append(arr.tobytes())
            buf = len(self._buffers) - 1
        if scale is not None:
            scale = list(np.atleast_1d(scale).astype(float))
            # TFLM wants one zero point per scale (per-channel checks compare the lengths)
            zp = np.atleast_1d(0 if zero_point is None else zero_point).astype(np.int64)
            zero_point = list(np.broadcast_to(zp, (len(scale),)))
        self._tensors.append(
            dict(
                shape=list(shape),
                type=DTYPES[dtype][0],
                buffer=buf,
                scale=scale,
                zero_point=zero_point,
                qdim=quantized_dimension,
                name=name or f"t{len(self._tensors)}",
                variable=variable,
                sparsity=sparsity,
            )
        )
        return len(self._tensors) - 1

    def op(self, opcode: str, inputs: list[int], outputs: list[int], **options) -> None:
        if opcode in OPS:
            table, defaults = OPS[opcode]
        else:  # extension fallback: SUB -> SubOptions, CONCATENATION -> ConcatenationOptions, ...
            table = _camel(opcode) + "Options"
            table, defaults = (table if hasattr(tflite.BuiltinOptions, table) else None), {}
        if table is None and options:
            raise ValueError(f"{opcode} takes no options, got {options}")
        if opcode not in self._opcodes:
            self._opcodes.append(opcode)
        self._ops.append((self._opcodes.index(opcode), list(inputs), list(outputs), table, {**defaults, **options}))

    # --- serialisation -------------------------------------------------------------------
    def build(self, inputs: list[int], outputs: list[int]) -> bytes:
        b = flatbuffers.Builder(1024)
        vec = lambda vals, dt="<i4": b.CreateNumpyVector(np.asarray(vals, dtype=dt))  # noqa: E731

        buffers = [self._buffer(b, d) for d in self._buffers]
        tensors = [self._tensor(b, t, vec) for t in self._tensors]
        ops = [self._operator(b, op, vec) for op in self._ops]
        codes = []
        for name in self._opcodes:
            code = getattr(tflite.BuiltinOperator, name)
            tflite.OperatorCodeStart(b)
            # old readers only see the int8 field; 127 = PLACEHOLDER_FOR_GREATER_OP_CODES
            tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
            tflite.OperatorCodeAddBuiltinCode(b, code)
            tflite.OperatorCodeAddVersion(b, 1)
            codes.append(tflite.OperatorCodeEnd(b))

        sg_name = b.CreateString("main")
        t_vec, o_vec = self._offsets(b, tensors), self._offsets(b, ops)
        in_vec, out_vec = vec(inputs), vec(outputs)
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, t_vec)
        tflite.SubGraphAddInputs(b, in_vec)
        tflite.SubGraphAddOutputs(b, out_vec)
        tflite.SubGraphAddOperators(b, o_vec)
        tflite.SubGraphAddName(b, sg_name)
        subgraph = tflite.SubGraphEnd(b)

        desc = b.CreateString("upyflow test model")
        codes_vec, sg_vec, buf_vec = (self._offsets(b, x) for x in (codes, [subgraph], buffers))
        tflite.ModelStart(b)
        tflite.ModelAddVersion(b, 3)
        tflite.ModelAddOperatorCodes(b, codes_vec)
        tflite.ModelAddSubgraphs(b, sg_vec)
        tflite.ModelAddDescription(b, desc)
        tflite.ModelAddBuffers(b, buf_vec)
        b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
        return bytes(b.Output())

    @staticmethod
    def _offsets(b: flatbuffers.Builder, offs: list[int]) -> int:
        b.StartVector(4, len(offs), 4)
        for o in reversed(offs):
            b.PrependUOffsetTRelative(o)
        return b.EndVector()

    @staticmethod
    def _buffer(b: flatbuffers.Builder, data: bytes) -> int:
        if data:
            # 16-byte align constant data like the converter does, so typed reads are aligned
            b.StartVector(1, len(data), 16)
            b.head = b.Head() - len(data)
            b.Bytes[b.Head() : b.Head() + len(data)] = data
            data_off = b.EndVector()
        tflite.BufferStart(b)
        if data:
            tflite.BufferAddData(b, data_off)
        return tflite.BufferEnd(b)

    @staticmethod
    def _tensor(b: flatbuffers.Builder, t: dict, vec) -> int:
        quant = None
        if t["scale"] is not None:
            scale, zp = vec(t["scale"], "<f4"), vec(t["zero_point"], "<i8")
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, scale)
            tflite.QuantizationParametersAddZeroPoint(b, zp)
            tflite.QuantizationParametersAddQuantizedDimension(b, t["qdim"])
            quant = tflite.QuantizationParametersEnd(b)
        sparsity = ModelWriter._sparsity(b, t["sparsity"], vec) if t.get("sparsity") else None
        name, shape = b.CreateString(t["name"]), vec(t["shape"])
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, t["type"])
        tflite.TensorAddBuffer(b, t["buffer"])
        tflite.TensorAddName(b, name)
        if quant is not None:
            tflite.TensorAddQuantization(b, quant)
        if t.get("variable"):
            tflite.TensorAddIsVariable(b, True)
        if sparsity is not None:
            tflite.TensorAddSparsity(b, sparsity)
        return tflite.TensorEnd(b)

    @staticmethod
    def _sparsity(b: flatbuffers.Builder, sp: dict, vec) -> int:
        """A SparsityParameters table from sparse_encode's parameters."""
        vector_types = {
            "int32": (tflite.SparseIndexVector.Int32Vector, "<i4", "Int32Vector"),
            "uint16": (tflite.SparseIndexVector.Uint16Vector, "<u2", "Uint16Vector"),
            "uint8": (tflite.SparseIndexVector.Uint8Vector, "u1", "Uint8Vector"),
        }
        metas = []
        for fmt, dense_size, segments, indices in sp["dim_metadata"]:
            code, dt, table = vector_types[sp["index_type"]]
            arrays = []
            for values in (segments, indices) if fmt == "SPARSE_CSR" else ():
                v = vec(values, dt)
                _fn(table + "Start")(b)
                _fn(table + "AddValues")(b, v)
                arrays.append(_fn(table + "End")(b))
            tflite.DimensionMetadataStart(b)
            tflite.DimensionMetadataAddFormat(b, getattr(tflite.DimensionType, fmt))
            if fmt == "DENSE":
                tflite.DimensionMetadataAddDenseSize(b, dense_size)
            else:
                tflite.DimensionMetadataAddArraySegmentsType(b, code)
                tflite.DimensionMetadataAddArraySegments(b, arrays[0])
                tflite.DimensionMetadataAddArrayIndicesType(b, code)
                tflite.DimensionMetadataAddArrayIndices(b, arrays[1])
            metas.append(tflite.DimensionMetadataEnd(b))
        order, meta_vec = vec(sp["traversal_order"]), ModelWriter._offsets(b, metas)
        block_map = vec(sp["block_map"]) if sp["block_map"] else None
        tflite.SparsityParametersStart(b)
        tflite.SparsityParametersAddTraversalOrder(b, order)
        if block_map is not None:
            tflite.SparsityParametersAddBlockMap(b, block_map)
        tflite.SparsityParametersAddDimMetadata(b, meta_vec)
        return tflite.SparsityParametersEnd(b)

    @staticmethod
    def _operator(b: flatbuffers.Builder, op: tuple, vec) -> int:
        idx, inputs, outputs, table, opts = op
        options = None
        if table is not None:
            # vectors (e.g. RESHAPE new_shape) must be created before the table is started
            vals = {
                k: vec(v)
                if isinstance(v, (list, tuple, np.ndarray))
                else getattr(ENUMS[k], v)
                if isinstance(v, str)
                else v
                for k, v in opts.items()
            }
            _fn(table + "Start")(b)
            for k, v in vals.items():
                _fn(f"{table}Add{_camel(k)}")(b, v)
            options = _fn(table + "End")(b)
        in_vec, out_vec = vec(inputs), vec(outputs)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, idx)
        tflite.OperatorAddInputs(b, in_vec)
        tflite.OperatorAddOutputs(b, out_vec)
        if options is not None:
            tflite.OperatorAddBuiltinOptionsType(b, getattr(tflite.BuiltinOptions, table))
            tflite.OperatorAddBuiltinOptions(b, options)
        return tflite.OperatorEnd(b)


# --- quantization helpers ----------------------------------------------------------------
def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: str = "int8") -> np.ndarray:
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.float64) - zero_point) * scale


def random_qparams(rng: np.random.Generator, dtype: str = "int8") -> tuple[float, int]:
    """Arbitrary activation scale and (asymmetric) zero point."""
    info = np.iinfo(dtype)
    return float(rng.uniform(0.01, 0.1)), int(rng.integers(info.min // 2, info.max // 2))


def add_quant_weights(
    w: ModelWriter, rng: np.random.Generator, shape: list[int], axis: int, input_scale: float, bias: bool = True
):
    """Add int8 symmetric per-channel weights (channels on `axis`) and an int32 bias.

    Bias scale is input_scale * weight_scale[c] with zero point 0, as TFLite kernels assume.
    Returns (weight_idx, bias_idx or -1, w_q, w_scales, b_q)."""
    wf = rng.normal(size=shape)
    red = tuple(i for i in range(len(shape)) if i != axis)
    w_scale = np.abs(wf).max(axis=red) / 127.0
    bshape = [1] * len(shape)
    bshape[axis] = -1
    w_q = np.clip(np.round(wf / w_scale.reshape(bshape)), -127, 127).astype(np.int8)
    wi = w.tensor(shape, "int8", list(w_scale), 0, quantized_dimension=axis, data=w_q)
    n = shape[axis]
    b_scale = input_scale * w_scale
    b_q = rng.integers(-1000, 1000, size=n).astype(np.int32)
    bi = w.tensor([n], "int32", list(b_scale), 0, data=b_q) if bias else -1
    return wi, bi, w_q, w_scale, (b_q if bias else np.zeros(n, np.int32))


def run_tflm(model: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model, arena_size=8 << 20)
    for i, arr in enumerate(inputs):
        interp.set_input(arr, i)
    interp.invoke()
    n_out = tflite.Model.GetRootAs(model).Subgraphs(0).OutputsLength()
    return [np.array(interp.get_output(i)) for i in range(n_out)]


def sparse_encode(
    dense: np.ndarray,
    formats: list[str],
    traversal_order: list[int] | None = None,
    block_map: list[int] | None = None,
    block: list[int] | None = None,
    index_type: str = "uint8",
) -> tuple[np.ndarray, dict]:
    """The values and sparsity parameters that store `dense` as the TFLite schema describes:
    dimension d cut into blocks of block[j] along block_map[j], the n + k expanded
    dimensions walked in traversal_order, each level DENSE or SPARSE_CSR (`formats`, in
    walk order). A CSR level keeps the indices whose sub-tensor holds a non-zero value."""
    n, block_map, block = dense.ndim, list(block_map or []), list(block or [])
    k = len(block_map)
    order = list(traversal_order if traversal_order is not None else range(n + k))
    # expanded[i_0..i_n-1, j_0..j_k-1] = dense[.., i_d * block + j, ..]
    split_shape, axes_outer, axes_inner = [], [], []
    for d in range(n):
        if d in block_map:
            bsz = block[block_map.index(d)]
            split_shape += [dense.shape[d] // bsz, bsz]
            axes_outer.append(len(split_shape) - 2)
            axes_inner.append((block_map.index(d), len(split_shape) - 1))
        else:
            split_shape.append(dense.shape[d])
            axes_outer.append(len(split_shape) - 1)
    inner = [a for _, a in sorted(axes_inner)]
    expanded = dense.reshape(split_shape).transpose(axes_outer + inner)
    walk = expanded.transpose(order)
    nodes: list[tuple] = [()]
    meta = []
    for level, fmt in enumerate(formats):
        size = walk.shape[level]
        if fmt == "DENSE":
            nodes = [p + (i,) for p in nodes for i in range(size)]
            meta.append(("DENSE", size, None, None))
            continue
        segments, indices, children = [0], [], []
        for p in nodes:
            kept = [i for i in range(size) if np.any(walk[p + (i,)])]
            indices += kept
            children += [p + (i,) for i in kept]
            segments.append(len(indices))
        nodes = children
        meta.append(("SPARSE_CSR", 0, segments, indices))
    values = np.array([walk[p] for p in nodes], dense.dtype)
    return values, dict(traversal_order=order, block_map=block_map, dim_metadata=meta, index_type=index_type)
