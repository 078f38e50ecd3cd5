"""The benchmark suite of `runner`: `python -m bench` runs every section, prints a table and
writes bench/results/*.json and BENCHMARKS.md (see bench/__main__.py)."""

__all__: list[str] = []
