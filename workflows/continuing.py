"""Continue-as-new: when a process starts a new run, and what it carries into it.

A process whose history grows long (Temporal suggests it, or the input's `history_limit` is reached)
continues as new at a phase boundary, never before a phase of the current run ran. Before it does, an
abort that came meanwhile ends the process instead, the ledger is flushed (nothing decided in this run
is left for the next one to write) and the staff requests being handled finish.

What it carries (`ResumeState`): the process's state (its `runs` counted), the phase to run next, the
counters that keep step keys unique (incidents, owner changes), the skips requested for later phases,
the client requests answered or ended unanswered (a submission or an end delivered as the run ended counts in the
next), and the IDs
of the last `UPDATE_IDS_CARRIED` staff requests taken, so that a retry sent after the new
run began is answered instead of applied again. A new field here needs a default in `ResumeState`, so
runs carried by older code still decode.

Workflow code, run without the SDK's sandbox (see `interpreter.py`).
"""

from __future__ import annotations

from temporalio import workflow

from processes.instance import ProcessInput, ResumeState
from workflows.run import Run

# How many staff requests' IDs (their Idempotency-Keys) a process carries into its next run when it continues as
# new, so a retry sent after that is answered instead of applied again
UPDATE_IDS_CARRIED = 200


def resume(run: Run, carried: ResumeState) -> None:
    """Carry on from where the previous run stopped (a phase boundary)."""
    run.state = carried.state.model_copy(update={"runs": carried.state.runs + 1})
    run.first_phase = carried.next_phase
    run.incidents, run.owner_changes = carried.incidents, carried.owner_changes
    run.skip_requests = dict(carried.skip_requests)
    run.update_ids = dict.fromkeys(carried.update_ids)
    run.requests_answered = dict(carried.requests_answered)
    run.signatures = dict(carried.signatures)
    run.requests_closed = dict(carried.requests_closed)
    run.phase_attribute = None  # not known here: set again at the next wait


def history_is_long(run: Run) -> bool:
    """Continue as new at a phase boundary once the history grows large (never before a phase ran)."""
    if run.phases_this_run == 0:
        return False
    info = workflow.info()
    limit = run.input.history_limit
    return info.is_continue_as_new_suggested() or (limit is not None and
                                                   info.get_current_history_length() >= limit)


async def continue_if_long(run: Run, next_phase: int) -> None:
    """Before phase `next_phase`: continue as new if the history is long (raises, as
    `workflow.continue_as_new` does), or return and let the phase run here."""
    if not history_is_long(run):
        return
    run.check_abort()  # an abort waits for the end of this run: end it, do not carry it on
    await run.flush()  # nothing decided in this run is left for the next one to write
    # (an abort that comes meanwhile waits for the process to end, so it ends it rather than being waited for)
    await workflow.wait_condition(lambda: workflow.all_handlers_finished() or run.abort is not None)
    run.check_abort()
    workflow.continue_as_new(_carried(run, next_phase))


def _carried(run: Run, next_phase: int) -> ProcessInput:
    carried = ResumeState(state=run.state, next_phase=next_phase, incidents=run.incidents,
                          owner_changes=run.owner_changes, skip_requests=run.skip_requests,
                          update_ids=list(run.update_ids)[-UPDATE_IDS_CARRIED:],
                          requests_answered=dict(list(run.requests_answered.items())[-UPDATE_IDS_CARRIED:]),
                          signatures=dict(list(run.signatures.items())[-UPDATE_IDS_CARRIED:]),
                          requests_closed=dict(list(run.requests_closed.items())[-UPDATE_IDS_CARRIED:]))
    return run.input.model_copy(update={"resume": carried, "start_delay_seconds": 0})
