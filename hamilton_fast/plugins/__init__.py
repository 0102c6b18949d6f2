"""Hamilton's plugin modules that matter for Polars, under their Hamilton names."""
