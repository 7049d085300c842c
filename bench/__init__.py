"""Benchmarks (not tests): run with `python -m bench.<name>`; each prints JSON with --json."""
