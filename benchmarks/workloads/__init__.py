"""Seeded workloads shared by the benchmarks and the equivalence tests.

- `wide`: a generated "wide" DAG of mixed column operations (`make_wide_spec`,
  `write_wide_module`, `make_wide_inputs`, `handwritten_wide`, `wide_outputs`).
- `hello`: Hamilton's hello-world dataflow as a real module (its functions are the nodes, so
  the module holds nothing else); `hello_reference` holds its inputs and hand-written query.
"""

from __future__ import annotations
