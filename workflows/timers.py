"""The timers racing a phase: its deadline and its reminders.

When a phase starts running, `Timers.start` sets a durable timer for its deadline (`deadline_days`)
and one for each `reminder` action; they run beside the phase's actions. A deadline that fires marks
the phase overdue and emails the process controller; a reminder that fires sends its message. Their
steps carry no bookkeeping (the phase's own steps do) and fail into incidents like any step. When the
phase is over, `Timers.stop` cancels the timers still asleep and waits for those already firing. The deadline
of a phase that waits for a client's answers, or for a signer, counts office time only (`_office_clock`): it
pauses while the client or the signer is awaited, and goes on when the answers or the signature's outcome came, or
the requests ended unanswered (cancelled, expired).

Workflow code, run without the SDK's sandbox (see `interpreter.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

from activities.notices import NoticeActivities, OverdueNoticeInput, ReminderInput
from activities.step import ActionResult
from processes.instance import ActionOutcome, PhaseState
from processes.action_kinds import Reminder
from processes.template import Phase
from workflows.actions import waits_for_client
from workflows.incidents import DEADLINE_NOTICE_STEP, Incidents
from workflows.run import ACTION_HEARTBEAT, ACTION_RETRY, ACTION_TIMEOUT, Run

# The deadline of a phase that waits for a client request's answers pauses while it waits (office time only).
PATCH_SLA_PAUSE = "deadline-pauses-while-the-client-is-awaited"
# ... and while it waits for a signer (runs from before this kept counting their signer's time).
PATCH_SIGNER_PAUSE = "deadline-pauses-while-the-signer-is-awaited"


@dataclass
class Watcher:
    """A timer racing a phase (deadline, reminder) and what it does when it fires."""

    task: asyncio.Task[None] | None = None
    asleep: bool = True


class Timers:
    def __init__(self, run: Run, incidents: Incidents) -> None:
        self.run, self.incidents = run, incidents

    def start(self, ps: PhaseState, spec: Phase) -> list[Watcher]:
        """The phase's deadline and reminders, each on its own timer."""
        watchers: list[Watcher] = []
        if ps.deadline_at is not None and waits_for_client(self.run, spec) and self.run.patched(PATCH_SLA_PAUSE):
            signer = any(a.request_signature is not None for a in spec.actions) \
                and self.run.patched(PATCH_SIGNER_PAUSE)
            watchers.append(self._office_clock(ps, spec, signer))
        elif ps.deadline_at is not None:
            watchers.append(self._watch(ps, ps.deadline_at - workflow.now(), f"deadline of phase {ps.key}",
                                        lambda: self._notify_overdue(ps, spec)))
        for j, action in enumerate(spec.actions):
            if action.reminder is not None:
                watchers.append(self._watch(ps, action.reminder.delay, f"reminder {j} of phase {ps.key}",
                                            self._reminder_sender(ps, spec, j, action.reminder)))
        return watchers

    async def stop(self, watchers: list[Watcher]) -> None:
        """The phase is over: cancel the timers still asleep (all of them during an incident), let the others end."""
        for watcher in watchers:
            assert watcher.task is not None
            if watcher.asleep or self.run.state.incident is not None:
                watcher.task.cancel()
            try:
                await watcher.task
            except asyncio.CancelledError:
                pass

    def _office_clock(self, ps: PhaseState, spec: Phase, signer: bool) -> Watcher:
        """The deadline of a phase that waits for a client's answers (or, with `signer`, for a signature's
        outcome) counts office time only: the clock stops while the client's answers or the signer are awaited
        and goes on (the deadline pushed back) when they came."""
        watcher, run = Watcher(), self.run

        def client_waits() -> bool:  # (a request that ended unanswered is awaited no more: workflows/unanswered.py)
            return run.client_awaited(ps) or (signer and bool(ps.waiting_signatures) and not run.signed(ps))

        async def clock() -> None:
            assert ps.deadline_at is not None
            left = ps.deadline_at - workflow.now()
            while left > timedelta(0):
                if client_waits():  # paused until the answers come, or the requests end (or the phase ends)
                    run.paused_deadline[ps.key] = left
                    await workflow.wait_condition(lambda: not client_waits() or ps.status.finished)
                    run.paused_deadline.pop(ps.key, None)
                    ps.deadline_at = workflow.now() + left
                    continue
                began = workflow.now()
                try:
                    await workflow.wait_condition(client_waits, timeout=left,
                                                  timeout_summary=f"deadline of phase {ps.key} (office time)")
                    left -= workflow.now() - began
                except asyncio.TimeoutError:
                    break
            watcher.asleep = False
            if not ps.status.finished:
                await self._notify_overdue(ps, spec)

        watcher.task = asyncio.create_task(clock())
        return watcher

    def _watch(self, ps: PhaseState, delay: timedelta, summary: str,
               fire: Callable[[], Awaitable[None]]) -> Watcher:
        watcher = Watcher()

        async def run() -> None:
            await workflow.sleep(max(delay, timedelta(0)), summary=summary)
            watcher.asleep = False
            if not ps.status.finished:
                await fire()

        watcher.task = asyncio.create_task(run())
        return watcher

    async def _notify_overdue(self, ps: PhaseState, spec: Phase) -> None:
        ps.overdue = True
        # the SDK's workflow meter does not count again while a history replays, and adds no command
        workflow.metric_meter().create_counter(
            "stagecoach_phases_overdue", "Phases that passed their deadline unfinished, by template").add(
            1, {"template": self.run.template.key})
        step_key = f"{self.run.state.workflow_id}/{ps.key}/overdue/{ps.iteration}"
        await self.incidents.attempt(ps, DEADLINE_NOTICE_STEP, step_key, lambda _: workflow.execute_activity_method(
            NoticeActivities.notify_overdue, OverdueNoticeInput(step=self.run.step_input(ps, step_key)),
            start_to_close_timeout=ACTION_TIMEOUT, heartbeat_timeout=ACTION_HEARTBEAT, retry_policy=ACTION_RETRY,
            summary=f"overdue notice · phase {ps.key}"), carries=False)

    def _reminder_sender(self, ps: PhaseState, spec: Phase, j: int,
                         reminder: Reminder) -> Callable[[], Awaitable[None]]:
        async def send() -> None:
            step_key = f"{self.run.state.workflow_id}/{ps.key}/{j}/{ps.iteration}"
            index = self.run.template.phase_index(ps.key)
            result = await self.incidents.attempt(ps, f"actions[{j}].reminder", step_key,
                                                  lambda _: workflow.execute_activity_method(
                                                      NoticeActivities.send_reminder,
                                                      ReminderInput(step=self.run.step_input(ps, step_key,
                                                                                             text=reminder.message),
                                                                    action=reminder,
                                                                    where=f"phases[{index}].actions[{j}].reminder"),
                                                      start_to_close_timeout=ACTION_TIMEOUT,
                                                      heartbeat_timeout=ACTION_HEARTBEAT, retry_policy=ACTION_RETRY,
                                                      summary=f"reminder · phase {ps.key} · action {j}"),
                                                  carries=False)
            if isinstance(result, ActionResult):
                ps.actions.append(ActionOutcome(index=j, kind="reminder", status="done", step_key=step_key,
                                                summary=result.summary, at=workflow.now()))
        return send
