"""fftc's hand-written CUDA kernels (TIR with tensor-core schedules).

* :mod:`.monarch`: the batched Monarch FFT convolution (FlashFFTConv's core):
  DFT matmuls on tensor cores, spectrum product, gating and ``D*u`` epilogue.
* :mod:`.fft_conv`: the graph op ``fft_conv`` on the same stages (zero-padded
  input, one-sided spectrum, strided output; the epilogue fused by Relax).
* :mod:`.outer`: the outer DFT stage around those stages for ``fft_conv``
  lengths N > 4096 (N = n0 x n1 x n2, up to 1048576).
* :mod:`.tensorcore`: the WMMA matmul and elementwise stage schedules.
* :mod:`.build`: building it for a GPU arch (CUDA source, fatbin, resources).
"""
