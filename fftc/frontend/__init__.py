"""Frontends: model formats in, fftc IR out."""
