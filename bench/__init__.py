"""Throughput and batching benchmarks, reported as ratios between rows measured in one run (bench/README.md)."""
