"""``python -m hamilton_fast``: the command line (see :mod:`hamilton_fast.cli`)."""

from __future__ import annotations

from hamilton_fast.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
