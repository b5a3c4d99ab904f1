"""Appointments sent by a phase are cancelled when staff skip that phase, or abort the process.

For each appointment step that was done, the latest invitation of its entry is cancelled
(`cancel_appointment`: the same UID with the next SEQUENCE, METHOD:CANCEL) and the outcome marked
`cancelled`. A cancellation that still fails after its retries is logged: the skip or the abort goes on.
Runs whose phases never sent an appointment issue no command here (and no patch marker), so histories
from before appointments replay unchanged; `PATCH_APPOINTMENTS_CANCELLED` guards the new commands.

Workflow code, run without the SDK's sandbox (see `interpreter.py`).
"""

from __future__ import annotations

from collections.abc import Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError

from activities.appointments import AppointmentActivities, CancelAppointmentInput, CancelCause
from processes.instance import ActionOutcome, PhaseState
from workflows.run import ACTION_RETRY, ACTION_TIMEOUT

PATCH_APPOINTMENTS_CANCELLED = "appointments-cancelled-with-their-phase"


def _latest_sent(phases: list[PhaseState]) -> list[ActionOutcome]:
    """The appointment outcomes still standing, the latest iteration of each entry."""
    latest: dict[str, ActionOutcome] = {}
    for ps in phases:
        for outcome in ps.actions:
            if outcome.kind == "appointment" and outcome.status == "done":
                latest[outcome.step_key.rsplit("/", 1)[0]] = outcome  # in the order they ran: the last wins
    return list(latest.values())


async def cancel_appointments(phases: list[PhaseState], cause: CancelCause, detail: str,
                              patched: Callable[[str], bool] = workflow.patched, *, phase: str = "") -> None:
    """Cancel the appointments the phases sent, saying why: the `cause` (the `phase` skipped, the process aborted)
    in LOCALE's words, then staff's `detail`; `patched`: the run's (`Run.patched`)."""
    outcomes = _latest_sent(phases)
    if not outcomes or not patched(PATCH_APPOINTMENTS_CANCELLED):
        return
    for outcome in outcomes:
        try:
            await workflow.execute_activity_method(
                AppointmentActivities.cancel_appointment,
                CancelAppointmentInput(step_key=outcome.step_key, cause=cause, phase=phase, detail=detail),
                start_to_close_timeout=ACTION_TIMEOUT, retry_policy=ACTION_RETRY,
                summary=f"cancel appointment {outcome.step_key.rsplit('/', 3)[-3]} · action {outcome.index}")
        except ActivityError as err:
            workflow.logger.warning("appointment %s not cancelled: %s", outcome.step_key, err.cause or err)
            continue
        outcome.status = "cancelled"
