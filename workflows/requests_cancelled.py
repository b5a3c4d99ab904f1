"""Client requests a phase waits for are cancelled when staff skip the phase, abort the process, or the process ends.

Before, they stayed pending: the client kept getting reminders, and could still send answers and files nothing would
read. For each request a phase waits for that the client has not answered and that has not ended,
`cancel_client_request` cancels it as staff cancel one (`crm/client_requests/closing.py`: its link shows it was
withdrawn, a history line says why) and stops its reminders. A cancellation that still fails after its retries is
logged: the skip or the abort goes on, and a reminder checks that its request is still pending before it is sent.
Runs whose phases wait for no client request issue no command here (and no patch marker), so histories from before
replay unchanged; `PATCH_REQUESTS_CANCELLED` guards the new commands.

Workflow code, run without the SDK's sandbox (see `interpreter.py`).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

from activities.client_requests import CancelForProcessInput, ClientRequestActivities
from processes.instance import PhaseState
from workflows.run import ACTION_RETRY, ACTION_TIMEOUT, Run

PATCH_REQUESTS_CANCELLED = "client-requests-cancelled-with-their-phase"


async def cancel_requests(run: Run, phases: list[PhaseState], reason: str, actor: str) -> None:
    """Cancel the requests `phases` wait for that neither the client answered nor ended; `reason` in the engine's
    English words (the history line says it in the office's language)."""
    open_ones = [r for ps in phases for r in ps.waiting_requests
                 if r not in run.requests_answered and r not in run.requests_closed]
    if not open_ones or not run.patched(PATCH_REQUESTS_CANCELLED):
        return
    for request_id in open_ones:
        try:
            await workflow.execute_activity_method(
                ClientRequestActivities.cancel_client_request,
                CancelForProcessInput(request_id=request_id, reason=reason, actor=actor or "process"),
                start_to_close_timeout=ACTION_TIMEOUT, retry_policy=ACTION_RETRY,
                summary=f"cancel client request #{request_id}")
        except ActivityError as err:
            workflow.logger.warning("client request %s not cancelled: %s", request_id, err.cause or err)
