"""The ONNX frontend."""

from fftc.frontend.onnx.importer import import_onnx
from fftc.frontend.onnx.loader import parse_shape_spec

__all__ = ["import_onnx", "parse_shape_spec"]
