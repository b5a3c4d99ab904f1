"""Temporal workflows: deterministic code only. They decide; activities act."""
