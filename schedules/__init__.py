"""fftc's schedule templates, one per kernel kind and target (see ``base.py``).

This folder is installed as the package ``fftc.schedules``.
"""
