"""Code generation: fftc IR -> Relax -> scheduled TIR -> TVM executable."""
