"""Benchmarks of hamilton_fast against Apache Hamilton and hand-written Polars queries."""
