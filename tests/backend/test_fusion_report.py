"""Stage ``fuse-blocks``: the fused kernels and the ops fused into each, read off
the fused module, in ``fftc inspect --stage fuse-blocks`` and ``--explain``."""

from __future__ import annotations

import numpy as np

import fftc
from fftc.api import inspect_stage, stage_names
from fftc.codegen.build import build
from fftc.codegen.fusion_report import FusedFunction, fused_functions
from fftc.ir import DType, GraphBuilder, TensorType
from fftc.ir.ops.spectral import FFTConvAttrs
from fftc.target import parse_target

F32 = DType.float32


def _gated_fft_conv():
    """y = gelu(fft_conv(u, K) * gate + u): the conv, gate, residual, activation."""
    b = GraphBuilder("g")
    u = b.input("u", TensorType((1, 4, 16), F32))
    gate = b.input("gate", TensorType((1, 4, 16), F32))
    k = b.constant(np.ones((4, 17, 2), np.float32), "k")
    y = b.node1("fft_conv", [u, k], FFTConvAttrs(32, 16), name="conv")
    y = b.node1("mul", [y, gate], name="gate")
    y = b.node1("add", [y, u], name="residual")
    return b.build([y], ["y"])


def test_the_fft_conv_and_its_epilogue_are_one_function():
    captured: dict[str, object] = {}
    build(_gated_fft_conv(), parse_target("llvm"), on_stage=captured.__setitem__,
          stop_after="fused")  # fmt: skip
    funcs = fused_functions(captured["fused"])
    conv = [f for f in funcs if "fft_conv" in f.kernels]
    assert len(conv) == 1, funcs
    assert {"T_multiply", "T_add"} <= set(conv[0].fused_ops)
    assert funcs[0] == conv[0]  # fftc kernels listed first


def test_describe_names_kernel_and_ops():
    f = FusedFunction("fused_x", ("fft_conv",), ("T_multiply", "T_add"))
    assert f.describe() == "fused_x: fft_conv + 2 fused ops (T_multiply, T_add), one function"
    assert "TVM code (matmul)" in FusedFunction("m", (), ("matmul",)).describe()


def test_stage_and_explain_show_the_fused_blocks(examples_dir):
    hyena = examples_dir / "onnx" / "hyena_block.onnx"
    assert stage_names().index("fuse-blocks") == stage_names().index("fused") + 1
    text = inspect_stage(hyena, "fuse-blocks")
    assert text.startswith("# fuse-blocks")
    assert "fft_conv +" in text
    assert "@I.ir_module" in text
    module = fftc.compile(hyena)
    lines = [d for d in module.decisions if d.startswith("[fuse-blocks]")]
    assert any("fft_conv +" in line and "T_multiply" in line for line in lines), lines
