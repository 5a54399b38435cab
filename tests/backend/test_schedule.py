"""The schedule driver: templates applied per tagged block, and safe inlining."""

from __future__ import annotations

from fftc.codegen.schedule import apply_schedules
from fftc.codegen.tvm_api import Schedule, llvm_target, relax, te, tvm
from fftc.schedules.inline import covers_producers


def test_sliced_consumers_are_not_reverse_inlined():
    """TVM 0.27's reverse_compute_at drops the predicate a slice leaves behind."""
    a = te.placeholder((8, 258), name="A")
    b = te.compute((8, 258), lambda i, j: a[i, j] * 2.0, name="B")
    c = te.compute((8, 258), lambda i, j: a[i, j] * 3.0, name="C")
    whole = te.compute((8, 258), lambda i, j: b[i, j] + 1.0, name="whole")
    part = te.compute((8, 256), lambda i, j: c[i, j], name="part")
    sch = Schedule(tvm.IRModule({"main": te.create_prim_func([a, whole, part])}))
    assert covers_producers(sch, sch.get_sblock("whole"))
    assert not covers_producers(sch, sch.get_sblock("part"))


def test_consumers_of_a_shared_producer_are_not_reverse_inlined():
    """TVM 0.27's reverse_compute_inline drops a producer's buffer that another block
    still reads ("used before its definition" when lowering)."""
    a = te.placeholder((8, 16), name="A")
    b = te.compute((8, 16), lambda i, j: a[i, j] + 1.0, name="B")
    d = te.compute((8, 16), lambda i, j: b[i, j] * 2.0, name="D")
    c = te.compute((8, 16), lambda i, j: b[i, j] + d[i, j], name="C")
    e = te.compute((8, 16), lambda i, j: c[i, j] * 3.0, name="E")
    sch = Schedule(tvm.IRModule({"main": te.create_prim_func([a, e])}))
    assert not covers_producers(sch, sch.get_sblock("D"))  # B is read by C too
    assert covers_producers(sch, sch.get_sblock("E"))  # C has no other reader


def _hyena_fused(examples_dir):
    from fftc.api import import_model
    from fftc.codegen.lower import lower_graph
    from fftc.passes import run_pipeline

    graph = run_pipeline(import_model(examples_dir / "onnx" / "hyena_block.onnx"))
    target = llvm_target()
    mod, _ = lower_graph(graph)
    with target:
        return relax.get_pipeline("zero")(mod), target


def _sliced_conv_fused():
    """A depthwise conv (no padding) whose last outputs a slice drops: the slice cannot
    fold into the conv's pads (simplify's ``slice(conv)`` rule needs padding to trim),
    so Relax fuses it after the conv's output block."""
    import numpy as np

    from fftc.codegen.lower import lower_graph
    from fftc.ir import DType, GraphBuilder, TensorType
    from fftc.ir.ops.conv import ConvAttrs
    from fftc.ir.ops.movement import SliceAttrs
    from fftc.passes import run_pipeline

    b = GraphBuilder("g")
    x = b.input("x", TensorType((1, 8, 66), DType.float32))
    w = b.constant(np.ones((8, 1, 3), np.float32), "w")
    bias = b.constant(np.zeros(8, np.float32), "bias")
    y = b.node1("conv", [x, w, bias], ConvAttrs((1,), (0, 0), (1,), 8))
    z = b.node1("slice", [y], SliceAttrs((0, 0, 0), (1, 8, 60), (1, 1, 1)))
    graph = run_pipeline(b.build([z], ["z"]))
    assert [n.op for n in graph.nodes] == ["conv", "slice"]
    target = llvm_target()
    mod, _ = lower_graph(graph)
    with target:
        return relax.get_pipeline("zero")(mod), target


def test_unguarded_writes_are_caught_and_not_used(monkeypatch):
    """A conv's outputs sliced: inlining the slice would write out of bounds."""
    import fftc.codegen.schedule as driver

    mod, target = _sliced_conv_fused()
    monkeypatch.setattr(driver, "covers_producers", lambda sch, block: True)
    _, report = apply_schedules(mod, target)
    assert any("without a guard" in why for why in report.failed.values()), report.failed


def test_every_fused_function_of_an_example_is_scheduled(examples_dir):
    mod, target = _hyena_fused(examples_dir)
    _, report = apply_schedules(mod, target)
    assert not report.failed
    assert any("fft" in t for used in report.scheduled.values() for t in used)


def _loop_kinds(func) -> list[str]:
    """The kinds of ``func``'s loops, outermost first, read off its TVMScript."""
    import re

    return re.findall(r"in T\.(serial|parallel|unroll|vectorized|grid|range)\(", func.script())


def test_transposes_are_tiled_and_broadcasts_are_not():
    """A transpose gets parallel tiles with unrolled rows and vector columns (LLVM turns
    them into loads and shuffles); a broadcast along the last axis keeps the plain
    vectorised schedule."""
    from fftc.codegen.lower import lower_graph
    from fftc.ir import DType, GraphBuilder, TensorType
    from fftc.ir.ops.movement import TransposeAttrs

    b = GraphBuilder("g")
    x = b.input("x", TensorType((1, 256, 192), DType.float32))
    y = b.node1("transpose", [x], TransposeAttrs((0, 2, 1)))
    mod, _ = lower_graph(b.build([y], ["y"]))
    target = llvm_target()
    with target:
        mod = relax.get_pipeline("zero")(mod)
    scheduled, report = apply_schedules(mod, target)
    assert not report.failed
    (name,) = [n for n in report.scheduled if "transpose" in n]
    assert _loop_kinds(scheduled[name]) == ["parallel", "unroll", "vectorized"]

    a = te.placeholder((64, 48), name="A")
    bias = te.placeholder((64,), name="bias")
    out = te.compute((64, 48), lambda i, j: a[i, j] + bias[i], name="out")
    sch = Schedule(tvm.IRModule({"main": te.create_prim_func([a, bias, out])}))
    from fftc.schedules.cpu.generic import _transposed_axis

    assert _transposed_axis(sch, sch.get_sblock("out")) is None
    t = te.compute((48, 64), lambda j, i: a[i, j], name="t")
    sch = Schedule(tvm.IRModule({"main": te.create_prim_func([a, t])}))
    assert _transposed_axis(sch, sch.get_sblock("t")) == 0
