"""ONNX converters, one module per op family (they register themselves)."""
