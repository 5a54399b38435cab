"""The ``fftc`` command line."""
