"""A phase waiting for a client's answers whose request ended unanswered: a person decides.

A request the phase waits for (auto-move) that staff cancel, or that expires unanswered, is delivered to the process
as the signal `client_request_closed` (`workflows/request_delivery.py`; counted once by `Run.requests_closed`, carried
across continue-as-new). The phase waiting for it takes it once (`PhaseState.requests_closed`):

- a line in the record's history says the request was cancelled, or that the client did not answer;
- the phase's deadline goes on counting office time (`workflows/timers.py`: the client is awaited no more);
- its responsible gets a task: an automatic phase opens its phase task (completing it completes the phase), a manual
  phase's task says what happened and is due when the deadline now falls.

The phase stays open: staff complete it (its task) or skip it. Answers that still come (staff resent the request)
complete it as before. Runs recorded before `PATCH_REQUEST_CLOSED` never got the signal; one that reached them from a
worker of this code before the marker was recorded is passed over, as they did.

Workflow code, run without the SDK's sandbox (see `interpreter.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from temporalio import workflow

from activities.bookkeeping import BookkeepingResult, PhaseTaskOpening, task_line, task_title
from activities.tasks import NotePhaseTaskInput, OpenPhaseTaskInput, TaskActivities
from crm.models import HistoryKind
from processes.history_words import said
from processes.instance import PhaseState
from workflows.incidents import TASK_STEP, Incidents
from workflows.run import BOOKKEEPING_RETRY, BOOKKEEPING_TIMEOUT, Run

# A phase whose client request ended unanswered (signal `client_request_closed`) resumes its deadline and asks its
# responsible to decide.
PATCH_REQUEST_CLOSED = "phase-takes-client-requests-ended-unanswered"



class Unanswered:
    def __init__(self, run: Run, incidents: Incidents) -> None:
        self.run, self.incidents = run, incidents
        self.passed: set[int] = set()  # ended requests passed over (a history from before the patch)

    def ended(self, ps: PhaseState) -> list[int]:
        """The phase's requests that ended unanswered and that it has not taken yet."""
        run = self.run
        return [r for r in ps.waiting_requests if r in run.requests_closed and r not in run.requests_answered
                and r not in ps.requests_closed and r not in self.passed]

    async def wait(self, ps: PhaseState, done: Callable[[], bool]) -> None:
        """Wait until `done()`, taking each of the phase's requests that ends unanswered meanwhile."""
        while True:
            await workflow.wait_condition(lambda: done() or bool(self.ended(ps)))
            if done():
                return
            await self._take(ps)

    async def _take(self, ps: PhaseState) -> None:
        run = self.run
        ended = self.ended(ps)
        if not run.patched(PATCH_REQUEST_CLOSED):
            self.passed.update(ended)
            return
        # the deadline goes on from here (timers.py); read before the clock takes it up again
        due = workflow.now() + run.paused_deadline[ps.key] if ps.key in run.paused_deadline else ps.deadline_at
        for r in ended:
            ps.requests_closed[r] = run.requests_closed[r]  # type: ignore[assignment]
        wf = run.state.workflow_id
        for r in ended:
            await run.line(f"{wf}/{ps.key}/request-closed/{r}/{ps.iteration}", HistoryKind.client_request_unanswered,
                           said(f"request_unanswered_{ps.requests_closed[r]}", phase=ps.name, request=r),
                           phase_key=ps.key,
                           data={"client_request_id": r, "outcome": ps.requests_closed[r]})
        requests = ", ".join(f"#{r}" for r in ended)
        if ps.task_id is None:
            await self._open_task(ps, requests, due)
        else:
            note = said("task_note_unanswered" if len(ended) > 1 else
                        f"task_note_unanswered_{ps.requests_closed[ended[0]]}", requests=requests)
            await workflow.execute_activity_method(
                TaskActivities.note_phase_task,
                NotePhaseTaskInput(task_id=ps.task_id, note=note.english, words=note.key, values=note.values,
                                   due_at=due),
                start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING_RETRY,
                summary=f"task {ps.task_id}: client request ended")
        index = run.template.phase_index(ps.key)
        run.details(f"phase **{ps.key}** ({index + 1}/{len(run.state.phases)}): client request {requests} ended "
                    f"unanswered; waits for task #{ps.task_id} of user {ps.responsible_id}")
        await run.park(ps)

    async def _open_task(self, ps: PhaseState, requests: str, due_at: datetime | None) -> None:
        """An automatic phase's task for its responsible: completing it completes the phase."""
        run = self.run
        step_key = f"{run.state.workflow_id}/{ps.key}/task/{ps.iteration}"
        if run.carry:
            opening = PhaseTaskOpening(
                step_key=step_key, phase_key=ps.key,
                **task_title(said("task_title_unanswered", phase=ps.name, template=run.template.name,
                                  requests=requests)),
                **task_line(said("phase_task_unanswered", phase=ps.name)),
                due_at=due_at, assignee_id=ps.responsible_id)
            result = await self.incidents.attempt(ps, TASK_STEP, step_key,
                                                  run.bookkeeping_call(f"task for phase {ps.key}"), open_task=opening)
            if isinstance(result, BookkeepingResult):
                ps.task_id = result.task_id
            return
        ps.task_id = await workflow.execute_activity_method(
            TaskActivities.open_phase_task, OpenPhaseTaskInput(step=run.step_input(ps, step_key), due_at=due_at),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING_RETRY,
            summary=f"task for phase {ps.key}")
