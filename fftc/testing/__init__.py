"""Test helpers that ship with fftc: random inputs, the onnxruntime reference,
and comparisons with stated tolerances (used by ``fftc verify`` and the tests).

Error measure: ``max_rel = max|actual - expected| / max|expected|``, the error
relative to the output's scale.  Elementwise relative error is meaningless
near zeros, which FFT outputs and activations have plenty of.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx

from fftc.errors import ModelError, UsageError, VerificationError

#: default ``fftc verify`` tolerance on max_rel for fp32 models
DEFAULT_RTOL = 1e-4


@dataclass(frozen=True)
class Comparison:
    name: str
    max_abs: float
    max_rel: float
    rtol: float
    shape_ok: bool = True

    @property
    def ok(self) -> bool:
        return self.shape_ok and bool(self.max_rel <= self.rtol)


def compare(name: str, actual: np.ndarray, expected: np.ndarray, rtol: float) -> Comparison:
    a = np.asarray(actual)
    e = np.asarray(expected)
    if a.shape != e.shape:
        return Comparison(name, float("inf"), float("inf"), rtol, shape_ok=False)
    if a.size == 0:
        return Comparison(name, 0.0, 0.0, rtol)
    if a.dtype == np.bool_ or e.dtype == np.bool_:
        mismatches = float(np.count_nonzero(a != e))
        return Comparison(name, mismatches, mismatches / a.size, rtol)
    diff = np.abs(a.astype(np.float64) - e.astype(np.float64))
    nan_mismatch = np.isnan(a) != np.isnan(e) if np.issubdtype(e.dtype, np.floating) else None
    if nan_mismatch is not None and nan_mismatch.any():
        return Comparison(name, float("nan"), float("inf"), rtol)
    diff = np.nan_to_num(diff, nan=0.0)
    scale = float(np.nanmax(np.abs(e.astype(np.float64)))) if e.size else 0.0
    max_abs = float(diff.max())
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    return Comparison(name, max_abs, max_rel, rtol)


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float, what: str = "") -> None:
    """Fail unless max|actual - expected| <= rtol * max|expected| (see module doc)."""
    c = compare(what or "value", actual, expected, rtol)
    if not c.ok:
        raise AssertionError(
            f"{what}: max abs error {c.max_abs:.3e}, relative {c.max_rel:.3e} > {rtol:.1e}"
            + ("" if c.shape_ok else f" (shapes {np.shape(actual)} vs {np.shape(expected)})")
        )


def _load(model: str | os.PathLike[str] | onnx.ModelProto) -> onnx.ModelProto:
    if isinstance(model, onnx.ModelProto):
        return model
    try:
        return onnx.load(str(model), load_external_data=False)
    except Exception as err:
        raise ModelError(f"{model}: not a readable ONNX model ({err})") from None


def input_specs(
    model: str | os.PathLike[str] | onnx.ModelProto,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> list[tuple[str, tuple[int, ...], np.dtype]]:
    """(name, shape, dtype) of each real graph input (initializers excluded)."""
    m = _load(model)
    inits = {t.name for t in m.graph.initializer}
    pinned = dict(input_shapes or {})
    specs = []
    for inp in m.graph.input:
        if inp.name in inits:
            continue
        tt = inp.type.tensor_type
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type))
        if inp.name in pinned:
            shape = tuple(int(d) for d in pinned[inp.name])
        else:
            dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
            if any(d is None for d in dims):
                raise UsageError(
                    f"input {inp.name!r} has symbolic dims; pin them with --input-shape"
                )
            shape = tuple(int(d) for d in dims if d is not None)
        specs.append((inp.name, shape, dtype))
    return specs


def random_inputs(
    model: str | os.PathLike[str] | onnx.ModelProto,
    seed: int = 0,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> dict[str, np.ndarray]:
    """Reproducible random inputs: N(0, 1) floats, integers in [0, 8), random bools."""
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for name, shape, dtype in input_specs(model, input_shapes):
        if dtype.kind == "f":
            feeds[name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind in "iu":
            feeds[name] = rng.integers(0, 8, shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[name] = rng.random(shape) < 0.5
        else:
            raise UsageError(f"input {name!r}: cannot make random data of type {dtype}")
    return feeds


def run_onnxruntime(
    model: str | os.PathLike[str] | onnx.ModelProto,
    inputs: Mapping[str, np.ndarray],
    threads: int | None = None,
) -> dict[str, np.ndarray]:
    """Outputs of onnxruntime's CPU provider, by output name."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = threads
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, dict(inputs)), strict=True))


def run_onnx_reference(
    model: str | os.PathLike[str] | onnx.ModelProto, inputs: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Outputs of ONNX's own reference evaluator (NumPy; slow, covers the newest opsets)."""
    from onnx.reference import ReferenceEvaluator

    m = _load(model)
    names = [o.name for o in m.graph.output]
    return dict(zip(names, ReferenceEvaluator(m).run(None, dict(inputs)), strict=True))


def reference_outputs(
    model: str | os.PathLike[str] | onnx.ModelProto, inputs: Mapping[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], str]:
    """onnxruntime's outputs, or ONNX's reference evaluator's where onnxruntime cannot
    load the model (e.g. an opset newer than it supports); returns (outputs, which)."""
    try:
        return run_onnxruntime(model, inputs), "onnxruntime"
    except Exception as ort_error:  # onnxruntime refuses the model: try ONNX's reference
        try:
            return run_onnx_reference(model, inputs), "onnx-reference"
        except Exception as ref_error:
            raise VerificationError(
                f"no reference can run this model: onnxruntime: {_first(ort_error)}; "
                f"ONNX reference evaluator: {_first(ref_error)}"
            ) from None


def _first(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


__all__ = [
    "DEFAULT_RTOL",
    "Comparison",
    "assert_close",
    "compare",
    "input_specs",
    "random_inputs",
    "reference_outputs",
    "run_onnx_reference",
    "run_onnxruntime",
]
