"""`ProcessWorkflow`: one running instance of a process template version.

The workflow's messages are here: the run, the staff requests (updates, each with the validator
that refuses what cannot apply, and most also as signals, built from the table in
`workflows/staff_requests.py`), the state query. What they do is the template interpreter's
(`workflows/interpreter.py`). The worker runs it without the SDK's sandbox (`worker.RUNNER`), so a run imports
nothing again, and a parked process holds little more memory than a hand-written workflow (bench/, scenario 4).
The imports below come through `imports_passed_through()` all the same, for a worker or replayer that runs the
sandbox's defaults.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from processes.instance import (ClientRequestEnded, ClientRequestSubmitted, ProcessInput, ProcessState,
                                    SignatureCompleted)
    from workflows.interpreter import ProcessInterpreter
    from workflows.staff_requests import (
        ABORT,
        CHANGE_OWNER,
        COMPLETE_PHASE,
        RESOLVE_INCIDENT,
        SKIP_PHASE,
        STAFF_REQUESTS,
        staff_signal,
        staff_update,
    )


@workflow.defn(name="ProcessWorkflow")
class ProcessWorkflow:
    @workflow.init
    def __init__(self, input: ProcessInput) -> None:
        self._process = ProcessInterpreter(input, child_run=ProcessWorkflow.run)
        self.staff = self._process.staff  # what the staff updates call

    @workflow.run
    async def run(self, input: ProcessInput) -> ProcessState:
        return await self._process.run()

    # the staff requests: updates whose validators refuse what cannot apply
    skip_phase = staff_update(SKIP_PHASE)
    complete_phase = staff_update(COMPLETE_PHASE)
    abort = staff_update(ABORT)
    change_owner = staff_update(CHANGE_OWNER)
    resolve_incident = staff_update(RESOLVE_INCIDENT)
    # the same requests as signals (no answer; a refusal is written to the history), for the Temporal UI and CLI
    skip_phase_signal = staff_signal(SKIP_PHASE)
    complete_phase_signal = staff_signal(COMPLETE_PHASE)
    abort_signal = staff_signal(ABORT)
    resolve_incident_signal = staff_signal(RESOLVE_INCIDENT)

    @workflow.signal(name="client_request_submitted")
    def client_request_submitted(self, signal: ClientRequestSubmitted) -> None:
        """A client answered a request (the dispatcher delivers it): the phase waiting for it completes."""
        self._process.request_answered(signal)

    @workflow.signal(name="client_request_closed")
    def client_request_closed(self, signal: ClientRequestEnded) -> None:
        """A request the phase waits for ended unanswered (cancelled, expired): its responsible decides."""
        self._process.request_closed(signal)

    @workflow.signal(name="signature_completed")
    def signature_completed(self, signal: SignatureCompleted) -> None:
        """A signing provider's callback told a signature request's outcome: the phase waiting for it completes."""
        self._process.signature_completed(signal)

    @workflow.query
    def current_state(self) -> ProcessState:
        return self._process.state

    @workflow.signal(dynamic=True)
    def unknown_signal(self, name: str, args: Sequence[RawValue]) -> None:
        """Any other signal: log it and drop it, never buffer it."""
        workflow.logger.warning("unknown signal %r dropped (a process takes the signals %s, and the updates %s)", name,
                                ", ".join([kind.name for kind in STAFF_REQUESTS if kind.signal is not None]
                                          + ["client_request_submitted", "client_request_closed",
                                             "signature_completed"]),
                                ", ".join(kind.name for kind in STAFF_REQUESTS))
