"""Signature requests still open are cancelled when staff skip their phase, abort the process, or the process ends.

For each request a phase waits for and has no outcome of yet, `cancel_signature` marks it `cancelled` (the
embedded link then answers 410) and makes the provider's cancel call when its configuration has one
(`activities/signing/cancel.py`). A cancellation that still fails after its retries is logged: the skip or the
abort goes on (what was recorded stays on the rows: the request's status, the provider call's delivery).
Runs whose phases wait for no signature issue no command here (and no patch marker), so histories from before
this replay unchanged; `PATCH_SIGNATURES_CANCELLED` guards the new commands. An `end_process` in the phase that sent
the document ends the process without waiting for the signer: its open requests are cancelled as the phase is
written done, under `PATCH_SIGNATURES_ENDED` (before it they stayed open: a callback that came later found a
process that had ended).

Workflow code, run without the SDK's sandbox (see `interpreter.py`).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

from activities.signing.cancel import CancelSignatureInput, SignatureCancelActivities
from processes.instance import PhaseState
from workflows.run import ACTION_RETRY, ACTION_TIMEOUT, Run

PATCH_SIGNATURES_CANCELLED = "signatures-cancelled-with-their-phase"
PATCH_SIGNATURES_ENDED = "signatures-cancelled-when-the-process-ends"


async def cancel_signatures(run: Run, phases: list[PhaseState], reason: str, actor: str,
                            patch: str = PATCH_SIGNATURES_CANCELLED) -> None:
    open_ones = [s for ps in phases for s in ps.waiting_signatures if s not in run.signatures]
    if not open_ones or not run.patched(patch):
        return
    for signature_id in open_ones:
        try:
            await workflow.execute_activity_method(
                SignatureCancelActivities.cancel_signature,
                CancelSignatureInput(signature_id=signature_id, reason=reason, actor=actor or "process"),
                start_to_close_timeout=ACTION_TIMEOUT, retry_policy=ACTION_RETRY,
                summary=f"cancel signature request #{signature_id}")
        except ActivityError as err:
            workflow.logger.warning("signature request %s not cancelled: %s", signature_id, err.cause or err)
