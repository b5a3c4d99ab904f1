"""Benchmarks: the template interpreter against hand-written Temporal workflows, measured side by side (`make bench`)."""
