"""`ProcessWorkflow`: one running instance of a process template version.

The workflow's messages are here: the run, the staff requests (updates, each with the
validator that refuses what cannot apply), the state query. What they do is the template
interpreter's (`workflows/interpreter.py`), imported through the sandbox's pass-through:
the sandbox re-imports this module for every run, so it stays this small, and a parked
process holds little more memory than a hand-written workflow (bench/, scenario 4).
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from processes.instance import (
        AbortRequest,
        ChangeOwnerRequest,
        CompletePhaseRequest,
        ProcessInput,
        ProcessState,
        ResolveIncidentRequest,
        SkipPhaseRequest,
    )
    from workflows.interpreter import ProcessInterpreter


@workflow.defn(name="ProcessWorkflow")
class ProcessWorkflow:
    @workflow.init
    def __init__(self, input: ProcessInput) -> None:
        self._process = ProcessInterpreter(input, child_run=ProcessWorkflow.run)

    @workflow.run
    async def run(self, input: ProcessInput) -> ProcessState:
        return await self._process.run()

    @workflow.update
    async def skip_phase(self, request: SkipPhaseRequest) -> ProcessState:
        if not self._process.take_update():
            return self._process.state
        return await self._process.skip_phase(request)

    @skip_phase.validator
    def _validate_skip_phase(self, request: SkipPhaseRequest) -> None:
        if not self._process.already_taken():
            self._process.validate_skip_phase(request)

    @workflow.update
    async def complete_phase(self, request: CompletePhaseRequest) -> ProcessState:
        if not self._process.take_update():
            return self._process.state
        return await self._process.complete_phase(request)

    @complete_phase.validator
    def _validate_complete_phase(self, request: CompletePhaseRequest) -> None:
        if not self._process.already_taken():
            self._process.validate_complete_phase(request)

    @workflow.update
    async def abort(self, request: AbortRequest) -> ProcessState:
        if not self._process.take_update():
            return self._process.state
        return await self._process.abort(request)

    @abort.validator
    def _validate_abort(self, request: AbortRequest) -> None:
        if not self._process.already_taken():
            self._process.validate_abort(request)

    @workflow.update
    async def change_owner(self, request: ChangeOwnerRequest) -> ProcessState:
        if not self._process.take_update():
            return self._process.state
        return await self._process.change_owner(request)

    @change_owner.validator
    def _validate_change_owner(self, request: ChangeOwnerRequest) -> None:
        if not self._process.already_taken():
            self._process.validate_change_owner(request)

    @workflow.update
    async def resolve_incident(self, request: ResolveIncidentRequest) -> ProcessState:
        if not self._process.take_update():
            return self._process.state
        return await self._process.resolve_incident(request)

    @resolve_incident.validator
    def _validate_resolve_incident(self, request: ResolveIncidentRequest) -> None:
        if not self._process.already_taken():
            self._process.validate_resolve_incident(request)

    @workflow.query
    def current_state(self) -> ProcessState:
        return self._process.state

    @workflow.signal(dynamic=True)
    def unknown_signal(self, name: str, args: Sequence[RawValue]) -> None:
        """A process takes no signals (staff requests are updates): log one and drop it, never buffer it."""
        workflow.logger.warning("unknown signal %r dropped (a process takes updates: skip_phase, complete_phase, "
                                "abort, change_owner, resolve_incident)", name)
