"""Before the first phase and after the last: the loop guard, a follow-up's start delay, follow-ups.

- **The loop guard**: a process started automatically (autostart, a follow-up) past the daily limit of
  its template on its record is cancelled before its first phase; the guard's activity writes the
  history line and emails the controller and owner (`activities/loop_guard.py`).
- **A follow-up's start delay**: a follow-up waits its `start.delay` before its first phase; an abort
  ends the wait.
- **Follow-ups**: the `start_follow_up` actions of a process that completed start as child workflows
  that outlive it (`ParentClosePolicy.ABANDON`), each prepared by an activity (template version, owner,
  workflow id). The lineage they carry is what the loop guard counts. A follow-up that cannot be
  prepared, or whose start Temporal refuses, is a `follow_up_failed` line in the record's history: the
  process that planned it still completes.

Workflow code, run without the SDK's sandbox (see `interpreter.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, FailureError
from temporalio.workflow import ParentClosePolicy

from activities.follow_ups import FollowUpActivities, PrepareFollowUpInput
from activities.loop_guard import LoopGuardActivities, LoopGuardInput
from crm.models import HistoryKind
from processes.history_words import english, said
from processes.instance import ENGINE, ProcessInput
from workflows import search_attributes as sa
from workflows.incidents import LOOP_GUARD_STEP
from workflows.run import ACTION_HEARTBEAT, ACTION_RETRY, ACTION_TIMEOUT, BOUNDED_BOOKKEEPING_RETRY, Run

# A follow-up Temporal refuses to start is a history line; runs from before this marker failed instead.
PATCH_FAILED_START_IS_A_LINE = "follow-up-start-failure-is-a-line"


class FollowUps:
    def __init__(self, run: Run, child_run: Callable[..., Any]) -> None:
        self.run = run
        self.child_run = child_run  # ProcessWorkflow.run, to start follow-ups

    async def loop_guard_cancels(self) -> bool:
        """An automatic start past the daily limit of its template on its record is cancelled."""
        run = self.run
        while True:
            try:
                result = await workflow.execute_activity_method(
                    LoopGuardActivities.apply_loop_guard,
                    LoopGuardInput(workflow_id=run.state.workflow_id, template_key=run.template.key,
                                   template_name=run.template.name, record_id=run.state.record_id,
                                   owner_id=run.state.owner_id, controller_email=run.template.controller_email,
                                   triggered_by_user_id=run.input.triggered_by_user_id),
                    start_to_close_timeout=ACTION_TIMEOUT, heartbeat_timeout=ACTION_HEARTBEAT,
                    retry_policy=BOUNDED_BOOKKEEPING_RETRY, summary="loop guard")
                break
            except ActivityError as err:  # the count cannot be read: staff retry it, or let the process run
                assert run.stuck is not None
                action = await run.stuck(LOOP_GUARD_STEP, f"{run.state.workflow_id}/loop-guard", err)
                if action is None:
                    run.check_abort()
                if action != "retry":
                    return False
        if result.cancelled:
            run.state.end_reason, run.state.ended_by = result.reason, "loop guard"
            for ps in run.state.phases:
                ps.skip_reason = english("reason_loop_guard")
        return result.cancelled

    async def wait_start_delay(self) -> None:
        run = self.run
        delay = timedelta(seconds=run.input.start_delay_seconds)
        if not delay:
            return
        run.details(f"follow-up: the first phase starts at {workflow.now() + delay:%Y-%m-%d %H:%M} UTC")
        await run.flush()  # "process started" is in the history while the process waits
        try:
            await workflow.wait_condition(lambda: run.abort is not None, timeout=delay,
                                          timeout_summary="start of the follow-up")
        except asyncio.TimeoutError:
            pass
        run.check_abort()

    async def start(self) -> None:
        """Start the planned follow-ups as children that live on after this process (ABANDON)."""
        run = self.run
        wf = run.state.workflow_id
        for follow_up in run.state.follow_ups:
            if follow_up.status != "planned":
                continue
            try:
                plan = await workflow.execute_activity_method(
                    FollowUpActivities.prepare_follow_up,
                    PrepareFollowUpInput(step_key=follow_up.step_key, parent_workflow_id=wf,
                                         record_id=run.state.record_id, owner_id=run.state.owner_id,
                                         triggered_by_user_id=run.input.triggered_by_user_id,
                                         action=follow_up.action),
                    start_to_close_timeout=ACTION_TIMEOUT, heartbeat_timeout=ACTION_HEARTBEAT,
                    retry_policy=ACTION_RETRY,
                    summary=f"prepare follow-up {follow_up.template}")
            except ActivityError as err:
                follow_up.status, follow_up.error = "failed", getattr(err.cause, "message", None) or str(err)
                await run.line(f"{follow_up.step_key}/failed", HistoryKind.follow_up_failed,
                               said("follow_up_failed", template=follow_up.template, error=follow_up.error))
                continue
            child = ProcessInput(template=plan.template, template_version=plan.template_version,
                                 record_id=plan.record_id, owner_id=plan.owner_id, started_by=f"follow-up of {wf}",
                                 lineage=[*run.state.lineage, wf], origin="follow_up",
                                 triggered_by_user_id=run.input.triggered_by_user_id,
                                 start_delay_seconds=follow_up.start_delay_seconds, parent_workflow_id=wf,
                                 engine=ENGINE)
            follow_up.workflow_id = plan.workflow_id
            try:
                await workflow.start_child_workflow(
                    self.child_run, child, id=plan.workflow_id, task_queue=workflow.info().task_queue,
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    search_attributes=sa.initial(plan.template.key, plan.record_id, plan.owner_id,
                                                 plan.template.phases[0].key),
                    static_summary=child.summary(), static_details=child.details())
            except FailureError as err:  # Temporal refused the start (its id is taken)
                if not self.run.patched(PATCH_FAILED_START_IS_A_LINE):
                    raise  # runs from before: the process failed
                follow_up.status, follow_up.error = "failed", f"{type(err).__name__}: {err}"
                await run.line(f"{follow_up.step_key}/failed", HistoryKind.follow_up_failed,
                               said("follow_up_failed", template=follow_up.template, error=follow_up.error),
                               data={"workflow_id": plan.workflow_id, "record_id": plan.record_id})
                continue
            follow_up.status = "started"
            await run.line(f"{follow_up.step_key}/started", HistoryKind.follow_up_started,
                           said("follow_up_started", template=plan.template.name, workflow_id=plan.workflow_id),
                           data={"workflow_id": plan.workflow_id, "record_id": plan.record_id})
