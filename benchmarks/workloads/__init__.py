"""Seeded workloads shared by the benchmarks and the equivalence tests.

- `wide`: a generated "wide" DAG of mixed column operations (`make_wide_spec`,
  `write_wide_module`, `make_wide_inputs`, `handwritten_wide`, `wide_outputs`).
- `forecast`: a weekly demand panel and its forecasting features (`forecast_features`,
  `forecast_pandas`, and `forecast.handwritten_forecast`).
- `hello`: Hamilton's hello-world dataflow as a real module (its functions are the nodes, so
  the module holds nothing else), run from `examples/hello_world/my_functions.py`;
  `hello_reference` holds its inputs and hand-written query.
- `module_files`: writing a module file and importing it, as a user's edit does.
"""

from __future__ import annotations
