"""Temporal activities: every side effect of a process. One action kind per module."""
