"""Example models for fftc: small PyTorch reference models and their ONNX exports."""
