"""Test-wide setup.

Apache Hamilton (the reference implementation the equivalence tests compare against) sends
telemetry on import unless told not to; this machine has no network, so switch it off before
anything can import `hamilton`. conftest.py is imported before any test module, which makes this
the earliest safe place.
"""

from __future__ import annotations

import os

os.environ["HAMILTON_TELEMETRY_ENABLED"] = "false"
