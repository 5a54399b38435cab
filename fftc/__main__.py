"""``python -m fftc`` runs the command line."""

from fftc.cli.main import main

raise SystemExit(main())
