"""fftc as an ONNX backend (``onnx.backend.base.Backend``), the way
``onnxruntime.backend`` is one::

    import fftc.backend as backend
    rep = backend.prepare(model, "CPU")
    outputs = rep.run([x])                       # or backend.run_model(model, [x])

fftc compiles ahead of time for static shapes and needs shape-like inputs
(a Reshape target, a DFT length, ...) as constants.  A prepared model is
therefore compiled at its first ``run``: small integer/boolean inputs and
scalars are baked into the model as constants (a specialisation on their
values; a new value compiles a new module), then the remaining inputs are
fed as usual.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.backend.base import Backend, BackendRep, Device, DeviceType, namedtupledict

from fftc.errors import FftcError, UnsupportedError

#: integer inputs up to this many elements are treated as shape-like and baked in
BAKE_LIMIT = 64


def _specialize(model: onnx.ModelProto, consts: Mapping[str, np.ndarray]) -> onnx.ModelProto:
    """``model`` with the inputs in ``consts`` turned into initializers."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    keep = [i for i in out.graph.input if i.name not in consts]
    del out.graph.input[:]
    out.graph.input.extend(keep)
    for name, value in consts.items():
        out.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    return out


def _is_shape_like(value: np.ndarray) -> bool:
    """Small integer or boolean inputs (shapes, axes, lengths, flags) and scalars
    (a Range start, a Pad value): compiled in as constants."""
    return (value.dtype.kind in "iub" and value.size <= BAKE_LIMIT) or value.ndim == 0


class FftcBackendRep(BackendRep):
    """A model prepared for fftc; compiled per distinct value of its shape-like inputs."""

    def __init__(self, model: onnx.ModelProto, target: str) -> None:
        self.model = model
        self.target = target
        inits = {t.name for t in model.graph.initializer}
        self.input_names = [i.name for i in model.graph.input if i.name not in inits]
        self.output_names = [o.name for o in model.graph.output]
        self._compiled: dict[tuple[Any, ...], Any] = {}

    def _module(self, consts: Mapping[str, np.ndarray]) -> Any:
        import fftc

        key = tuple((k, v.dtype.str, v.shape, v.tobytes()) for k, v in sorted(consts.items()))
        if key not in self._compiled:
            model = _specialize(self.model, consts) if consts else self.model
            self._compiled[key] = fftc.compile(model, target=self.target)
        return self._compiled[key]

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        if isinstance(inputs, Mapping):
            items = list(inputs.items())
        else:
            arrays = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
            if len(arrays) > len(self.input_names):
                raise FftcError(
                    f"the model takes {len(self.input_names)} inputs, got {len(arrays)}"
                )
            items = list(zip(self.input_names, arrays, strict=False))
        for name, value in items:
            if isinstance(value, list | tuple | dict) or value is None:
                raise UnsupportedError(
                    f"input {name!r} is a sequence, map or optional; fftc takes tensors only"
                )
        feeds = {k: np.asarray(v) for k, v in items}
        consts = {k: v for k, v in feeds.items() if _is_shape_like(v)}
        module = self._module(consts)
        outs = module.run({k: v for k, v in feeds.items() if k not in consts})
        names = [s.name for s in module.outputs]
        return namedtupledict("Outputs", names)(*[outs[n] for n in names])


class FftcBackend(Backend):
    """The ONNX backend API over :func:`fftc.compile`."""

    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        return cls.supports_device(device)

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> FftcBackendRep:
        if not cls.supports_device(device):
            raise FftcError(f"device {device!r} is not supported (fftc runs on CPU)")
        return FftcBackendRep(model, kwargs.get("target", "llvm"))

    @classmethod
    def run_model(
        cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any
    ) -> tuple[Any, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(
        cls,
        node: onnx.NodeProto,
        inputs: Any,
        device: str = "CPU",
        outputs_info: Sequence[tuple[Any, Any]] | None = None,
        **kwargs: Any,
    ) -> tuple[Any, ...]:
        """Run one node: it is wrapped in a model whose inputs are ``inputs``."""
        values = inputs.values() if isinstance(inputs, Mapping) else inputs
        arrays = [np.asarray(a) for a in values]
        names = [n for n in node.input if n]
        graph_inputs = [
            helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
            for n, a in zip(names, arrays, strict=False)
        ]
        outs = [onnx.ValueInfoProto(name=o) for o in node.output if o]
        graph = helper.make_graph([node], "node", graph_inputs, outs)
        opset = kwargs.get("opset_version", onnx.defs.onnx_opset_version())
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        inferred = onnx.shape_inference.infer_shapes(model)
        types = {v.name: v.type for v in inferred.graph.value_info}
        for out in model.graph.output:
            if out.name in types:
                out.type.CopyFrom(types[out.name])
        return cls.run_model(model, arrays, device, **kwargs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return Device(device).type == DeviceType.CPU


prepare = FftcBackend.prepare
run_model = FftcBackend.run_model
run_node = FftcBackend.run_node
supports_device = FftcBackend.supports_device
is_compatible = FftcBackend.is_compatible

__all__ = [
    "FftcBackend",
    "FftcBackendRep",
    "is_compatible",
    "prepare",
    "run_model",
    "run_node",
    "supports_device",
]
