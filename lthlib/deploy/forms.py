"""The forms a stored ticket is deployed in, and how each one runs a batch.

- **PyTorch** (the network rebuilt from a checkpoint), dense, or with its ``nn.Linear`` weights
  as ``torch.sparse`` CSR matrices (:func:`with_csr_linears`).  That is the only layer of these
  networks an operator takes sparse weights for: ``nn.Embedding`` looks rows up (a sparse
  matrix saves nothing there), and ``conv1d`` and ``nn.LSTM`` (``_VF.lstm``) take dense weights
  only, so the convolutions and the recurrence run dense, pruned zeros and all.
- **ONNX** (:func:`export_onnx`): the dense graph, pruned weights stored as zeros, exported by
  PyTorch's TorchScript exporter (``torch.onnx.export(dynamo=False)``, opset 17).  Its dynamo
  exporter needs onnxscript and, in torch 2.13, fixed the BiLSTM's number of time steps to the
  example's for some shapes; the TorchScript one traces both models with a dynamic batch and
  length, exports the BiLSTM's CPU path (each direction through ``_VF.lstm``, the reverse one over
  each sequence reversed within its length) as ONNX ``LSTM`` nodes, and runs in onnxruntime to
  within float rounding of PyTorch (``tests/test_deploy.py``).  PyTorch marks that exporter as
  deprecated; a torch that drops it fails those tests.
- **ONNX int8** (:func:`quantize_int8`): onnxruntime's dynamic quantization, weights to int8
  (``MatMul``, ``Conv``, ``LSTM``, ``Gather``: the embedding too), activations quantized per
  batch at run time.

Every runtime here uses one thread (:func:`ort_session`; PyTorch's via
:func:`lthlib.machine.platform.cpu_threads`), so latencies compare like with like.
"""
from __future__ import annotations

import copy
import logging
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.config import ConfigError
from ..data.prepare import PAD
from ..nets.models import MODELS, exportable_models, spec_of

OPSET = 17
INPUT_NAMES = ("tokens", "lengths")
OUTPUT_NAME = "logits"

#: (tokens int64 (B, T), lengths int64 (B,)) -> logits float32 (B, n_out), as numpy
Runner = Callable[[np.ndarray, np.ndarray], np.ndarray]


def check_exportable(model_name: str) -> None:
    """Refuse, by name, a model whose entry has no export hook (its graph is unchecked)."""
    if model_name not in MODELS:
        raise ConfigError(f"the exporter does not know model {model_name!r}; it knows "
                          f"{', '.join(exportable_models())}")
    spec = MODELS.get(model_name)
    if spec.export is None:
        raise ConfigError(f"the exporter refuses model {model_name!r}: {spec.export_refusal}; it exports "
                          f"{', '.join(exportable_models())}")


# ---------------------------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------------------------

class CSRLinear(nn.Module):
    """``nn.Linear`` with its weight as a sparse CSR matrix (``F.linear`` takes one)."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.weight = linear.weight.detach().to_sparse_csr()
        self.bias = None if linear.bias is None else linear.bias.detach().clone()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


def with_csr_linears(model: nn.Module) -> tuple[nn.Module, list[str]]:
    """A copy of ``model`` whose ``nn.Linear`` layers hold CSR weights, and their names.
    Run it under ``torch.no_grad()``: CSR tensors refuse ``torch.inference_mode``."""
    copied = copy.deepcopy(model).eval()
    replaced = [name for name, module in copied.named_modules() if isinstance(module, nn.Linear)]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        for name in replaced:
            parent_name, _, leaf = name.rpartition(".")
            parent = copied.get_submodule(parent_name) if parent_name else copied
            setattr(parent, leaf, CSRLinear(getattr(parent, leaf)))
    return copied, replaced


def torch_runner(model: nn.Module) -> Runner:
    """Run a PyTorch network on numpy batches (eval mode, no autograd)."""
    model.eval()

    def run(tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(tokens), torch.from_numpy(lengths)).float().numpy()
    return run


# ---------------------------------------------------------------------------------------------
# ONNX
# ---------------------------------------------------------------------------------------------

def exportable(model: nn.Module) -> nn.Module:
    """The module to trace: what the model's ``export`` hook makes of it (the network itself,
    or the CNN padded to its widest filter)."""
    spec = spec_of(model)
    check_exportable(spec.name)
    return spec.export(model)


def example_batch(vocab_size: int, batch: int = 3, steps: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch to trace with: unequal lengths, padded with PAD."""
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(2, max(vocab_size, 3), (batch, steps), generator=g)
    lengths = torch.linspace(steps, 1, batch).round().to(torch.int64)
    tokens[torch.arange(steps)[None, :] >= lengths[:, None]] = PAD
    return tokens, lengths


def export_onnx(model: nn.Module, vocab_size: int, path: Path) -> Path:
    """Write ``model`` (fp32, eval mode) as an ONNX graph with a dynamic batch and length."""
    module = exportable(model.float())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(module, example_batch(vocab_size), str(path), dynamo=False, opset_version=OPSET,
                          input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
                          dynamic_axes={"tokens": {0: "batch", 1: "steps"}, "lengths": {0: "batch"},
                                        OUTPUT_NAME: {0: "batch"}})
    return Path(path)


def quantize_int8(source: Path, target: Path) -> Path:
    """onnxruntime's dynamic int8 quantization of an ONNX graph's weights."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quiet = logging.getLogger()
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "consider pre-processing": shape inference, for static graphs
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    finally:
        quiet.setLevel(level)
    return Path(target)


def ort_session(path: Path):
    """An onnxruntime CPU session on one thread, every graph optimisation on."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_runner(path: Path) -> Runner:
    session = ort_session(path)

    def run(tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return session.run([OUTPUT_NAME], {"tokens": tokens, "lengths": lengths})[0]
    return run
