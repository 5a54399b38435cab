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


def test_unguarded_writes_are_caught_and_not_used(examples_dir, monkeypatch):
    """Hyena's causal conv is sliced; inlining the slice would write out of bounds."""
    import fftc.codegen.schedule as driver

    mod, target = _hyena_fused(examples_dir)
    monkeypatch.setattr(driver, "covers_producers", lambda sch, block: True)
    _, report = apply_schedules(mod, target)
    assert any("without a guard" in why for why in report.failed.values()), report.failed


def test_every_fused_function_of_an_example_is_scheduled(examples_dir):
    mod, target = _hyena_fused(examples_dir)
    _, report = apply_schedules(mod, target)
    assert not report.failed
    assert any("fft" in t for used in report.scheduled.values() for t in used)
