"""Make the PyTorch recurrent test models: .onnx files beside this script.

Needs PyTorch and onnxscript, which are not upyflow dependencies:
`pip install torch==2.13.0 onnxscript` (made with torch 2.13.0+cpu, onnxscript 0.7.2), then

    python tests/models/make_torch_rnn.py

Seeded, untrained (the tests compare with onnxruntime, whatever the weights). The tests
(tests/test_onnx_rnn.py) read the committed files; CI never runs this script.

Sequence classifiers as a PyTorch user writes them: nn.LSTM / nn.GRU (batch_first, input 6,
hidden 12) and nn.Linear(..., 3) on the last step, input "x" 1x16x6, output "logits" 1x3:

  torch_lstm_f32.onnx     2-layer bidirectional LSTM, torch.onnx.export's default (the
                          torch.export-based exporter)
  torch_gru_f32.onnx      2-layer bidirectional GRU (linear_before_reset=1), the same exporter
  torch_lstm_ts_f32.onnx  1-layer LSTM from the TorchScript exporter (dynamo=False, opset 17)
                          with a dynamic batch (dynamic_axes): the initial states come from a
                          Shape/Gather/Concat/Expand subgraph, folded at bake time
  torch_gru_ts_f32.onnx   1-layer GRU, the same exporter and dynamic batch
  torch_rnn_ts_f32.onnx   2-layer bidirectional nn.RNN (tanh), the TorchScript exporter (opset
                          17, batch 1): ONNX RNN nodes (the default exporter writes nn.RNN as
                          MatMul/Add/Tanh per step)
  torch_rnn_relu_ts_f32.onnx  1-layer nn.RNN(nonlinearity="relu"), the same exporter, dynamic
                          batch: activations ["Relu"]
  torch_lstm_states_f32.onnx  2-layer LSTM taking its initial states: inputs x 1x16x6, h0 and c0
                          2x1x12, outputs y 1x16x12, h_n and c_n 2x1x12 (the default exporter:
                          the states Slice'd per layer)
"""

from __future__ import annotations

import io
from pathlib import Path

SEED = 1515
HERE = Path(__file__).resolve().parent


def main() -> None:
    import torch

    class Classifier(torch.nn.Module):
        def __init__(self, cell: str, layers: int, bidirectional: bool) -> None:
            super().__init__()
            rnn = getattr(torch.nn, cell)
            self.rnn = rnn(6, 12, num_layers=layers, bidirectional=bidirectional, batch_first=True)
            self.head = torch.nn.Linear(12 * (2 if bidirectional else 1), 3)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.head(y[:, -1])

    class RnnClassifier(torch.nn.Module):
        def __init__(self, **kw) -> None:
            super().__init__()
            self.rnn = torch.nn.RNN(6, 12, batch_first=True, **kw)
            self.head = torch.nn.Linear(12 * (2 if kw.get("bidirectional") else 1), 3)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.head(y[:, -1])

    for cell in ("LSTM", "GRU"):
        torch.manual_seed(SEED)
        x = torch.randn(1, 16, 6)
        net = Classifier(cell, 2, True).eval()
        prog = torch.onnx.export(net, (x,), input_names=["x"], output_names=["logits"], dynamo=True)
        (HERE / ("torch_%s_f32.onnx" % cell.lower())).write_bytes(prog.model_proto.SerializeToString())
        net = Classifier(cell, 1, False).eval()
        f = io.BytesIO()
        torch.onnx.export(
            net,
            (x,),
            f,
            input_names=["x"],
            output_names=["logits"],
            dynamo=False,
            opset_version=17,
            dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
        )
        (HERE / ("torch_%s_ts_f32.onnx" % cell.lower())).write_bytes(f.getvalue())

    class Stateful(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = torch.nn.LSTM(6, 12, num_layers=2, batch_first=True)

        def forward(self, x, h0, c0):
            y, (h, c) = self.rnn(x, (h0, c0))
            return y, h, c

    torch.manual_seed(SEED)
    args = (torch.randn(1, 16, 6), torch.zeros(2, 1, 12), torch.zeros(2, 1, 12))
    prog = torch.onnx.export(
        Stateful().eval(), args, input_names=["x", "h0", "c0"], output_names=["y", "h_n", "c_n"], dynamo=True
    )
    (HERE / "torch_lstm_states_f32.onnx").write_bytes(prog.model_proto.SerializeToString())
    for name, kw, dynamic in (
        ("torch_rnn_ts_f32", dict(num_layers=2, bidirectional=True), False),
        ("torch_rnn_relu_ts_f32", dict(nonlinearity="relu"), True),
    ):
        torch.manual_seed(SEED)
        x = torch.randn(1, 16, 6)
        net = RnnClassifier(**kw).eval()
        f = io.BytesIO()
        axes = {"dynamic_axes": {"x": {0: "batch"}, "logits": {0: "batch"}}} if dynamic else {}
        torch.onnx.export(
            net, (x,), f, input_names=["x"], output_names=["logits"], dynamo=False, opset_version=17, **axes
        )
        (HERE / (name + ".onnx")).write_bytes(f.getvalue())


if __name__ == "__main__":
    main()
