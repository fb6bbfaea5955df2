"""Benchmarks for the poller against the simulators (issue 7). Run: python -m bench.run --help."""
