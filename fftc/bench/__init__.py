"""``fftc bench``: named benchmark suites, timed against PyTorch, onnxruntime and TVM.

Every CPU case is measured in one process on the same seeded inputs (fp32, batch 1):

* :mod:`fftc.bench.suites`: the suites, their cases and inputs, and float64 NumPy
  references (no PyTorch needed);
* :mod:`fftc.bench.torch_models`: each case as a PyTorch module (what is exported to
  ONNX) and PyTorch's own candidate implementations;
* :mod:`fftc.bench.export`: ONNX export and the on-disk cache of exported models;
* :mod:`fftc.bench.baselines`: the implementations measured (fftc, PyTorch eager,
  onnxruntime, TVM without fftc's passes);
* :mod:`fftc.bench.runner`: numerics checks and the timing policy;
* :mod:`fftc.bench.report`: the table, the JSON file and the plot.

The GPU suite (``longconv-gpu``, ``--target cuda``; B=64, fp16/bf16/fp32) has its own
modules: :mod:`fftc.bench.gpu_models` (the model, inputs made on the GPU, PyTorch's
cuFFT candidates and float32 reference), :mod:`fftc.bench.gpu_runner` (running on
``tvm.cuda(0)``, CUDA-event timing), :mod:`fftc.bench.gpu_specs` (FlashFFTConv's
published times, HBM bandwidths, the bandwidth floor) and :mod:`fftc.bench.gpu_report`.
"""

from __future__ import annotations

from fftc.bench.suites import SUITES, Case, Suite

__all__ = ["SUITES", "Case", "Suite"]
