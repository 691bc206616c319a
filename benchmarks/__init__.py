"""Benchmark harness: the project's split transforms on local Spark against a DuckDB
reference on the same generated input (``make bench``; see docs/performance.md)."""
