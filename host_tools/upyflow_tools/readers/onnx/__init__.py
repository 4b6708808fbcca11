"""Read an ONNX model (the `onnx` package) into the ir.Graph the TFLite reader produces.

The result uses TFLite builtin op names, TFLite-style options and NHWC tensors, so every
later stage (passes, lowering, planner, emitter, device kernels) runs it unchanged.

Layout. ONNX activations are NCHW, the runtime's are NHWC. Every value keeps its ONNX
(logical) shape plus how its bytes are ordered: storage = base.transpose(perm), where
`base` is a shape the logical shape is a reshape of. Conv outputs are stored NHWC;
Transpose, Flatten, Reshape, Squeeze, Unsqueeze only change that bookkeeping, and a
Gemm/MatMul reading a flattened NHWC tensor gets its weight columns permuted at bake time,
so a plain CNN runs no transpose on the device. A TRANSPOSE is emitted only where an
operator needs an order the bytes do not have. A rank-4 graph input is taken as NCHW and
the baked model reads it as NHWC (unless Transpose nodes are its only consumers: then it
keeps its ONNX layout); likewise a rank-4 output is NHWC unless a Transpose node makes it.
In a model with 1-D Conv/MaxPool/AveragePool nodes, rank-3 inputs and outputs follow the same
rule with [N, C, L] read and written as [N, L, C] (NLC); a 1-D operator runs as the 2-D one
on [N, C, 1, L], the reshapes between the two being aliased away.

Grouped Conv (1 < group < input channels) runs as one STRIDED_SLICE and CONV_2D per group
and a CONCATENATION on the channel axis (int8: every part carries the output quantization).

Quantized (QDQ) models. QuantizeLinear/DequantizeLinear pairs around an operator, as
onnxruntime.quantization.quantize_static(QuantFormat.QDQ, QInt8, QInt8) writes them,
become the int8 TFLite operator with the Q/DQ scales and zero points: DQ of an initializer
is the int8 weight (or int32 bias), DQ -> op [-> Relu/Clip] -> Q an int8 kernel, Q of a
float tensor QUANTIZE, a DQ feeding a float operator or a graph output DEQUANTIZE. An op
with no int8 form for its quantization runs in float between DEQUANTIZE and QUANTIZE.

Rounding: a QDQ model's graph says rounding = "onnxruntime": its int8 CONV_2D,
DEPTHWISE_CONV_2D and FULLY_CONNECTED then requantize as onnxruntime's QLinearConv/QGemm do
(float32 scale in*w/out, float32 product, ties to even; kernels *_s8_ort); int8 ADD/SUB/MUL
as its float32 DQ -> op -> Q, AVERAGE_POOL_2D and MEAN as its QLinearAveragePool and
QLinearGlobalAveragePool, int8 -> int8 QUANTIZE (QLinearConcat's inputs) as DQ -> Q. The other
int8 kernels round as TFLite Micro does (bake --rounding tflm: all of them), so outputs can
differ from onnxruntime's by one step where a value lands on a rounding tie.

Modules: checks (validation), state (the reader and the ir it builds), values (Val, QConst,
storage orders), layout, qdq (QuantizeLinear/DequantizeLinear matching), fold (constants),
registry + ops/ (one translator module per operator group), read (the driver).
"""
from .checks import MAX_OPSET, MIN_OPSET, ONNX_HINTS, SUPPORTED
from .read import read_onnx

__all__ = ["MAX_OPSET", "MIN_OPSET", "ONNX_HINTS", "SUPPORTED", "read_onnx"]
