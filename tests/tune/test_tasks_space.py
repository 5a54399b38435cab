"""Tasks (dedup, weights) and design spaces (fftc's knobs as MetaSchedule spaces)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fftc.codegen.build import tvm_target
from fftc.codegen.schedule import schedule_func
from fftc.codegen.tvm_api import Schedule, structural_equal
from fftc.target import parse_target
from fftc.tune.space import assignments, knob_spaces, knobs_read, uses_metaschedule_rules
from fftc.tune.tasks import Task, call_counts, extract_tasks, fused_module

SPEC = parse_target("llvm")


@pytest.fixture(scope="module")
def tasks(tiny_path: Path) -> list[Task]:
    return extract_tasks(tiny_path, SPEC)


def test_tasks_are_deduplicated_and_weighted(tiny_path: Path, tasks: list[Task]):
    calls = call_counts(fused_module(tiny_path, SPEC))
    assert sum(t.weight for t in tasks) == sum(calls.values())
    assert len({t.key for t in tasks}) == len(tasks)
    matmul = next(t for t in tasks if "matmul" in t.name)
    assert matmul.weight == 2  # relu(x @ W) twice, same shapes: one workload
    fft = next(t for t in tasks if t.kernels)
    assert "fft.stage" in fft.kernels
    assert not uses_metaschedule_rules(fft)
    assert uses_metaschedule_rules(matmul)


def test_default_knobs_give_the_default_schedule(tasks: list[Task]):
    """The first design space is the default build's schedule: one template for both."""
    target = tvm_target(SPEC)
    for task in tasks:
        spaces = knob_spaces(Schedule(task.mod), target)
        assert spaces, task.name
        default, _ = schedule_func(task.mod["main"], target)
        assert structural_equal(spaces[0].mod["main"], default), task.name


def test_knob_spaces_record_their_knobs_and_differ(tasks: list[Task]):
    target = tvm_target(SPEC)
    matmul = next(t for t in tasks if "matmul" in t.name)
    knobs = knobs_read(Schedule(matmul.mod), target)
    assert knobs is not None
    assert {k.name for k in knobs} == {"rows", "vector_width"}
    spaces = knob_spaces(Schedule(matmul.mod), target)
    assert len(spaces) > 1
    for i, a in enumerate(spaces):  # each space is a different schedule
        for b in spaces[i + 1 :]:
            assert not structural_equal(a.mod, b.mod)
    samples = [inst for inst in spaces[0].trace.insts if inst.kind.name == "SampleCategorical"]
    assert len(samples) == len(knobs)  # the knob choices are in the trace


def test_assignments_put_the_default_first_and_respect_the_limit(tasks: list[Task]):
    target = tvm_target(SPEC)
    matmul = next(t for t in tasks if "matmul" in t.name)
    knobs = knobs_read(Schedule(matmul.mod), target) or []
    every = assignments(knobs, 1000)
    assert every[0] == {k.name: k.default for k in knobs}
    assert len(every) == len({tuple(sorted(a.items())) for a in every}) == 20
    few = assignments(knobs, 5, seed=3)
    assert len(few) == 5
    assert few[0] == every[0]


def test_cuda_monarch_task_has_fused_and_staged_spaces(examples_dir: Path):
    """On CUDA the Monarch FFT convolution's task is searched over the fused template's
    knobs (fused, warps, tables), the choices traced like the CPU templates'."""
    spec = parse_target("cuda:sm_90")
    target = tvm_target(spec)
    tasks = extract_tasks(examples_dir / "onnx" / "hyena_block.onnx", spec)
    (monarch,) = [t for t in tasks if "monarch.matmul" in t.kernels]
    knobs = knobs_read(Schedule(monarch.mod), target)
    assert knobs is not None
    assert {"fused", "warps", "tables"} <= {k.name for k in knobs}
    spaces = knob_spaces(Schedule(monarch.mod), target)
    scripts = [space.mod["main"].script() for space in spaces]
    fused = [s for s in scripts if "shared" in s and s.count('"blockIdx.x"') == 1]
    assert fused  # fused kernels ...
    assert len(fused) < len(scripts)  # ... and the staged one
    samples = [i for i in spaces[0].trace.insts if i.kind.name == "SampleCategorical"]
    assert len(samples) == len(knobs)
