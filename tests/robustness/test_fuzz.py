"""The mutation fuzzer (fftc.testing.fuzz): a fixed CI run must find no BUG; the mutators
are deterministic; the harness tells crashes, hangs and memory exhaustion apart."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import onnx
import pytest

from fftc.testing import fuzz
from fftc.testing.fuzz import BUG, CLEAN_ERROR, OK, Case, Options, Result, classify
from fftc.testing.fuzz_mutations import BYTE_KINDS, GRAPH_MUTATIONS, KINDS, Skip, mutate

CI_SEED = 0
CI_CASES = 300


@pytest.fixture(scope="module")
def seeds() -> dict[str, bytes]:
    return fuzz.seed_models()


@pytest.mark.slow
def test_ci_fuzz_run_finds_no_bug(seeds):
    kinds = list(KINDS)
    results = fuzz.fuzz(
        CI_CASES, CI_SEED, kinds=kinds, opts=Options(timeout=60, jobs=2), seeds=seeds
    )
    assert len(results) == CI_CASES
    bugs = [r for r in results if r.outcome == BUG]
    assert not bugs, fuzz.summary(bugs)
    counts = Counter(r.outcome for r in results)
    assert counts[OK] >= CI_CASES // 10, counts  # the run compiled and ran models, too
    assert len({r.case.kind for r in results}) == len(kinds)


def test_seed_models_include_the_examples_and_compile_cleanly(seeds):
    assert {"onnx/hyena_block", "zoo/fno", "gen_dft"} <= set(seeds)
    for data in seeds.values():
        onnx.load_from_string(data)  # every seed parses


@pytest.mark.parametrize("kind", KINDS)
def test_every_mutation_is_deterministic(seeds, kind):
    for name in ("gen_movement", "zoo/afno"):
        runs = []
        for _ in range(2):
            try:
                runs.append(mutate(kind, seeds[name], seeds["gen_dft"], random.Random(7)))
            except Skip:
                runs.append((b"", "skip"))
        assert runs[0] == runs[1]
        data, description = runs[0]
        assert description
        if description != "skip":
            assert data != seeds[name], description


def test_cases_are_reproducible_by_index(seeds):
    a = fuzz.make_case(3, 41, seeds, KINDS)
    b = fuzz.make_case(3, 41, seeds, KINDS)
    assert (a.seed_model, a.kind, a.description, a.data) == (
        b.seed_model,
        b.kind,
        b.description,
        b.data,
    )
    assert fuzz.make_case(3, 42, seeds, KINDS).data != a.data


def test_byte_mutations_do_what_they_say(seeds):
    data, other = seeds["gen_dft"], seeds["gen_mlp"]
    out, text = mutate("bytes.truncate", data, other, random.Random(1))
    assert data.startswith(out)
    assert len(out) < len(data)
    assert f"{len(out)} of {len(data)}" in text
    out, text = mutate("bytes.bitflip", data, other, random.Random(1))
    flipped = sum(bin(x ^ y).count("1") for x, y in zip(out, data, strict=True))
    assert flipped == len(text.split("[")[1].split(","))
    out, _ = mutate("bytes.splice", data, other, random.Random(1))
    assert any(data[:k] + other[-(len(out) - k) :] == out for k in range(len(out) + 1))
    assert set(BYTE_KINDS) <= set(KINDS)


def test_graph_mutations_change_what_they_name(seeds):
    data = seeds["gen_movement"]
    out, text = mutate("init.delete", data, data, random.Random(0))
    before, after = onnx.load_from_string(data), onnx.load_from_string(out)
    gone = {t.name for t in before.graph.initializer} - {t.name for t in after.graph.initializer}
    assert len(gone) == 1
    assert repr(gone.pop()) in text
    out, text = mutate("opset.version", data, data, random.Random(5))
    assert onnx.load_from_string(out).opset_import != before.opset_import or "ir_version" in text
    assert set(GRAPH_MUTATIONS) <= set(KINDS)


def test_classification():
    from fftc.errors import ModelError, UnsupportedError

    assert classify(ModelError("m.onnx: truncated"))[0] == CLEAN_ERROR
    assert classify(UnsupportedError("node 'x': fftc's converter failed; please report"))[0] == BUG
    assert classify(ModelError("ONNX shape inference failed: std::bad_alloc"))[0] == BUG
    assert classify(ModelError(""))[0] == BUG
    assert classify(ValueError("zip() argument 2 is longer"))[0] == BUG
    assert classify(ModelError("clean"), phase="run")[0] == BUG  # declared inputs must run


def test_harness_reports_crashes_hangs_and_memory_and_recovers(seeds):
    """The child segfaults (restarted), hangs (killed), runs out of memory, then still works."""
    payloads = [b"fftc-fuzz:crash", b"fftc-fuzz:hang", b"fftc-fuzz:oom", seeds["gen_mlp"]]
    cases = [Case(i, "self-test", "self-test", "", p) for i, p in enumerate(payloads)]
    crash, hang, oom, fine = fuzz.run_cases(cases, Options(timeout=5, jobs=1))
    assert crash.outcome == BUG
    assert "SIGSEGV" in crash.detail
    assert (fine.outcome, fine.detail) == (OK, "compiled and ran")
    assert hang.outcome == BUG
    assert "timeout" in hang.detail
    assert oom.outcome == BUG
    assert "MemoryError" in oom.detail


def test_cli(tmp_path: Path, capsys):
    args = ["--cases", "4", "--seed", "1", "--kinds", "bytes.truncate", "--jobs", "1"]
    assert fuzz.main([*args, "--save-failures", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "4 cases" in out
    assert "bytes.truncate" in out
    assert list(tmp_path.iterdir()) == []
    assert fuzz.main(["--list-kinds"]) == 0
    assert capsys.readouterr().out.split() == list(KINDS)


def test_saved_failures_can_be_replayed(tmp_path: Path, capsys):
    case = Case(12, "gen_mlp", "bytes.bitflip", "flipped bits [3]", b"fftc-fuzz:crash")
    saved = fuzz.save_failures(
        [Result(case, BUG, "the child process died (SIGSEGV)")], tmp_path, seed=9
    )
    assert [p.name for p in saved] == ["seed9-case000012-bytes.bitflip.onnx"]
    report = saved[0].with_suffix(".txt").read_text()
    assert "--seed 9 --start 12 --cases 1" in report
    assert "SIGSEGV" in report
    assert fuzz.main(["--replay", str(saved[0]), "--jobs", "1"]) == 1
    assert "1 BUG" in capsys.readouterr().out
