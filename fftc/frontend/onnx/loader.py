"""Reading ONNX files safely: parse errors, external data, opsets, pinned shapes."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from fftc.errors import ModelError, UsageError
from fftc.frontend.onnx.registry import MIN_OPSET

#: refuse models whose declared data exceeds this (a malformed or hostile file)
MAX_MODEL_BYTES = 4 << 30


def load_model(source: str | os.PathLike[str] | onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Load a model and its external data; returns (model, display name)."""
    if isinstance(source, onnx.ModelProto):
        model = onnx.ModelProto()
        model.CopyFrom(source)
        return model, model.graph.name or "<model>"
    path = Path(source)
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, RuntimeWarning, ValueError, OSError) as err:
        raise ModelError(f"{path}: not a readable ONNX model ({_first_line(err)})") from None
    except Exception as err:  # protobuf raises a variety of errors on garbage
        raise ModelError(f"{path}: not a readable ONNX model ({_first_line(err)})") from None
    if not model.HasField("graph"):
        raise ModelError(f"{path}: the file holds no ONNX graph")
    _load_external_data(model, path)
    return model, str(path)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _external_tensors(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                tensors.append(attr.t)
    return [t for t in tensors if t.data_location == onnx.TensorProto.EXTERNAL]


def _load_external_data(model: onnx.ModelProto, path: Path) -> None:
    """Load external tensor data, refusing locations outside the model's folder."""
    tensors = _external_tensors(model)
    if not tensors:
        return
    base = path.resolve().parent
    for t in tensors:
        info = {e.key: e.value for e in t.external_data}
        location = info.get("location", "")
        target = (base / location).resolve()
        if os.path.isabs(location) or base not in target.parents:
            raise ModelError(
                f"{path}: tensor {t.name!r} points to external data {location!r} outside "
                "the model's folder; refused"
            )
        if not target.is_file():
            raise ModelError(f"{path}: external data file {location!r} of {t.name!r} is missing")
        length = int(info.get("length", "0") or 0)
        if length > MAX_MODEL_BYTES:
            raise ModelError(f"{path}: tensor {t.name!r} declares {length} bytes; refused")
    try:
        onnx.load_external_data_for_model(model, str(base))
    except Exception as err:
        raise ModelError(f"{path}: cannot load external data ({_first_line(err)})") from None


def default_opset(model: onnx.ModelProto, where: str) -> int:
    """The model's default-domain opset, converting older models up to MIN_OPSET."""
    versions = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    version = versions.get("ai.onnx")
    newest = onnx.defs.onnx_opset_version()
    if version is None:  # only other domains: their nodes are reported as unsupported
        return newest
    if version > newest:
        raise ModelError(
            f"{where}: opset {version} is newer than this onnx package supports ({newest})"
        )
    return version


def upgrade_opset(model: onnx.ModelProto, where: str) -> onnx.ModelProto:
    """Convert a model below MIN_OPSET with ONNX's version converter."""
    try:
        return onnx.version_converter.convert_version(model, MIN_OPSET)
    except Exception as err:
        raise ModelError(
            f"{where}: opset {default_opset(model, where)} is older than {MIN_OPSET} and "
            f"ONNX's version converter failed on it ({_first_line(err)})"
        ) from None


def parse_shape_spec(specs: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Parse ``--input-shape name=1,768,4096`` values."""
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        name, sep, dims = spec.rpartition("=")
        try:
            shape = tuple(int(d) for d in dims.split(",")) if dims.strip() else ()
        except ValueError:
            shape = None
        if not sep or not name or shape is None or any(d < 1 for d in shape):
            raise UsageError(
                f"--input-shape {spec!r}: expected NAME=D1,D2,... with positive integer dims"
            )
        shapes[name] = shape
    return shapes


def pin_input_shapes(
    model: onnx.ModelProto, shapes: Mapping[str, Sequence[int]], where: str
) -> None:
    """Overwrite the declared shapes of graph inputs (in place)."""
    inputs = {i.name: i for i in model.graph.input}
    unknown = sorted(set(shapes) - set(inputs))
    if unknown:
        raise UsageError(
            f"{where}: --input-shape names unknown inputs {unknown}; inputs are {sorted(inputs)}"
        )
    for name, shape in shapes.items():
        ttype = inputs[name].type.tensor_type
        old = ttype.shape.dim
        if len(old) and len(old) != len(shape):
            raise UsageError(
                f"{where}: input {name!r} has rank {len(old)}, --input-shape gives {len(shape)}"
            )
        ttype.shape.Clear()
        for d in shape:
            ttype.shape.dim.add().dim_value = int(d)
    # shapes recorded for the old input shapes are stale: let shape inference redo them
    del model.graph.value_info[:]
    for out in model.graph.output:
        if out.type.HasField("tensor_type"):
            out.type.tensor_type.ClearField("shape")
