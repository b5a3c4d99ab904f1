"""Every workflow the worker registers."""

from workflows.process import ProcessWorkflow

ALL_WORKFLOWS = [ProcessWorkflow]
