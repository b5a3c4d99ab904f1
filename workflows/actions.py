"""A phase's actions: one step each, in order.

`ACTION_ACTIVITIES` maps each action kind that runs as an activity to its activity method and input
model: a new action kind is a new activity module under `activities/`, its input, and a line here
(plus its model in `processes/action_kinds.py`). The kinds handled apart: a `reminder` runs on a timer
(`workflows/timers.py`), a `start_follow_up` is planned here and started when the process ends
(`workflows/follow_ups.py`), an `end_process` ends the process after its phase.

The last action step of an automatic phase also writes "phase done", and "process ended" when nothing
comes after, once it succeeded: a phase of one action costs one activity.

Workflow code, run without the SDK's sandbox (see `interpreter.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow

from activities.appointments import AppointmentActivities, AppointmentInput
from activities.bookkeeping import Bookkeeping, HistoryLine, RunEnd, StepEnd
from activities.forward_email import ForwardEmailActivities, ForwardEmailInput
from activities.history import AddHistoryInput, HistoryActivities
from activities.letters import LetterActivities, LetterInput
from activities.notify_owner import NotifyOwnerActivities, NotifyOwnerInput
from activities.record_values import RecordValuesActivities, SetStatusInput, WriteValuesInput
from activities.send_client_request import SendClientRequestActivities, SendClientRequestInput
from activities.send_email import SendEmailActivities, SendEmailInput
from activities.send_sms import SendSmsActivities, SendSmsInput
from activities.signing.request import RequestSignatureInput, SignatureActivities
from activities.stage_actions import AssignInput, NotifyInput, StageActionActivities, StartProcessInput, SubstateInput
from activities.step import ActionResult
from activities.tasks import CreateTaskInput, TaskActivities
from activities.webhooks import WebhookActivities, WebhookInput
from crm.models import HistoryKind
from processes.history_words import english, said
from processes.instance import ActionOutcome, FollowUpState, PhaseState, PhaseStatus, ProcessStatus
from processes.action_kinds import Action
from processes.template import Phase
from workflows.first_attempt import REGULAR_ONLY, run_step
from workflows.incidents import Incidents
from workflows.run import ACTION_HEARTBEAT, ACTION_RETRY, ACTION_TIMEOUT, Run, Step

# action kind -> (activity method, its input model); reminders, follow-ups and end_process are handled apart
ACTION_ACTIVITIES: dict[str, tuple[Callable[..., Awaitable[ActionResult]], type[Any]]] = {
    "send_email": (SendEmailActivities.send_email, SendEmailInput),
    "webhook": (WebhookActivities.webhook, WebhookInput),
    "send_sms": (SendSmsActivities.send_sms, SendSmsInput),
    "appointment": (AppointmentActivities.appointment, AppointmentInput),
    "letter": (LetterActivities.letter, LetterInput),
    "report": (LetterActivities.report, LetterInput),
    "create_task": (TaskActivities.create_task, CreateTaskInput),
    "write_values": (RecordValuesActivities.write_values, WriteValuesInput),
    "set_status": (RecordValuesActivities.set_status, SetStatusInput),
    "add_history": (HistoryActivities.add_history, AddHistoryInput),
    "open_substate": (StageActionActivities.change_substate, SubstateInput),
    "close_substate": (StageActionActivities.change_substate, SubstateInput),
    "notify": (StageActionActivities.notify, NotifyInput),
    "assign": (StageActionActivities.assign, AssignInput),
    "start_process": (StageActionActivities.start_process, StartProcessInput),
    "send_client_request": (SendClientRequestActivities.send_client_request, SendClientRequestInput),
    "forward_email": (ForwardEmailActivities.forward_email, ForwardEmailInput),
    "notify_owner": (NotifyOwnerActivities.notify_owner, NotifyOwnerInput),
    "request_signature": (SignatureActivities.request_signature, RequestSignatureInput),
}


def waits_for_client(run: Run, spec: Phase) -> bool:
    """The phase sends a client request with auto-move: it completes when the client answers (a process's phase;
    a status's automation does not wait, the record moves on instead)."""
    return run.input.stage is None and any(
        (a.send_client_request is not None and a.send_client_request.auto_move) or a.request_signature is not None
        for a in spec.actions)


class Actions:
    def __init__(self, run: Run, incidents: Incidents) -> None:
        self.run, self.incidents = run, incidents

    async def run_all(self, index: int, spec: Phase, ps: PhaseState) -> bool:
        """Run the phase's actions; whether its last step also wrote "phase done" (the phase is then over)."""
        run = self.run
        last = max((j for j, a in enumerate(spec.actions) if a.kind in ACTION_ACTIVITIES), default=None)
        if waits_for_client(run, spec):
            last = None  # the phase is not over with its last step: it waits for the client's answers
        done_written = False
        for j, action in enumerate(spec.actions):
            if not done_written and run.phase_interrupted(ps):
                return False
            step_key = f"{run.state.workflow_id}/{ps.key}/{j}/{ps.iteration}"
            if action.reminder is not None:
                continue
            if action.start_follow_up is not None:
                follow_up = action.start_follow_up
                run.state.follow_ups.append(FollowUpState(step_key=step_key, template=follow_up.template,
                                                          action=follow_up,
                                                          start_delay_seconds=follow_up.start.delay.total_seconds()))
                ps.actions.append(ActionOutcome(index=j, kind=action.kind, status="done", step_key=step_key,
                                                summary=english("summary_follow_up_later",
                                                                template=follow_up.template), at=workflow.now()))
                continue
            if action.end_process is not None:
                run.end_reason = action.end_process.reason or english("reason_ended_by_phase", phase=ps.key)
                ps.actions.append(ActionOutcome(index=j, kind=action.kind, status="done", step_key=step_key,
                                                summary=english("summary_process_ends"), at=workflow.now()))
                return done_written
            run.details(f"phase **{ps.key}** ({index + 1}/{len(run.state.phases)}): action {j} `{action.kind}`")
            after = self._phase_end_lines(index, spec, ps, j) \
                if run.carry and j == last and spec.completion == "automatic" else ()
            # the process ends with this step: it writes the end too (runs from before PATCH_LAST_STEP_ENDS: a step of
            # bookkeeping after it); not when an action other than a reminder follows it in the phase
            ends = run.last_step_ends and any(line.kind is HistoryKind.process_ended for line in after) and \
                all(a.reminder is not None for a in spec.actions[j + 1:])
            result = await self.incidents.attempt(ps, f"actions[{j}].{action.kind}", step_key,
                                                  self._call(index, j, action, ps, step_key, ends), after=after)
            ended_at = result.ended_at if isinstance(result, ActionResult) else None
            ps.actions.append(ActionOutcome(
                index=j, kind=action.kind, step_key=step_key, at=ended_at or workflow.now(),
                status="done" if isinstance(result, ActionResult) else "skipped",
                summary=result.summary if isinstance(result, ActionResult)
                else english("summary_skipped_after_incident")))
            if ended_at is not None and run.step_end is not None:  # the end it wrote, for `_finish` to compare
                run.step_ended = run.step_end.completed(result.summary, ended_at, result.responsible_id)
            if isinstance(result, ActionResult) and result.data.get("waits"):
                ps.waiting_requests.append(int(result.data["client_request_id"]))
            if isinstance(result, ActionResult) and result.data.get("signature_id") is not None \
                    and run.input.stage is None:
                ps.waiting_signatures.append(int(result.data["signature_id"]))
                run.signature_expiry[int(result.data["signature_id"])] = result.data["expires_at"]
            if after and isinstance(result, ActionResult):  # only actions run in the workflow come after it
                done_written = True
                run.ended_written = any(line.kind is HistoryKind.process_ended for line in after)
        return done_written

    def _ending_reason(self, spec: Phase, j: int) -> str | None:
        """The reason of an `end_process` after action `j` of the phase (it ends the process with the phase)."""
        ending = next((a.end_process for a in spec.actions[j + 1:] if a.end_process is not None), None)
        return ending.reason or english("reason_ended_by_phase", phase=spec.key) if ending is not None else None

    def _phase_end_lines(self, index: int, spec: Phase, ps: PhaseState, j: int) -> list[HistoryLine]:
        """What the success of the phase's last step means: the phase is done; the process ends, when
        nothing comes after (no phase, decision or follow-up)."""
        run = self.run
        wf = run.state.workflow_id
        lines = [HistoryLine.saying(said("phase_done", phase=ps.name), step_key=f"{wf}/{ps.key}/done/{ps.iteration}",
                                    kind=HistoryKind.phase_done, phase_key=ps.key)]
        later = spec.actions[j + 1:]
        follow_ups = any(f.status == "planned" for f in run.state.follow_ups) or \
            any(a.start_follow_up is not None for a in later)
        reason = self._ending_reason(spec, j)
        if not follow_ups and (reason is not None or (not spec.decision and run.following(index) is None)):
            lines.append(HistoryLine.saying(run.ended_words(reason), step_key=f"{wf}/process/ended",
                                            kind=HistoryKind.process_ended))
        return lines

    def _call(self, index: int, j: int, action: Action, ps: PhaseState, step_key: str, ends: bool = False) -> Step:
        """The step's activity call; `ends`: the process ends with its success, and it writes the end (`StepEnd`)."""
        method, input_cls = ACTION_ACTIVITIES[action.kind]
        where = {"where": f"phases[{index}].actions[{j}].{action.kind}"} if "where" in input_cls.model_fields else {}
        if action.kind == "close_substate":
            where["opening"] = False
        if "stage" in input_cls.model_fields:
            where["stage"] = self.run.input.stage

        def call(books: Bookkeeping | None) -> Awaitable[Any]:
            if ends and books is not None:
                self.run.step_end = self._step_end(j, action, ps, step_key, books)
                books = books.model_copy(update={"ending": self.run.step_end})
            return run_step(
                self.run.local_first and action.kind not in REGULAR_ONLY, method,
                input_cls(step=self.run.step_input(ps, step_key, books, action.spec.model_dump_json()),
                          action=action.spec, **where),
                start_to_close_timeout=ACTION_TIMEOUT, heartbeat_timeout=ACTION_HEARTBEAT,
                retry_policy=ACTION_RETRY, summary=f"{action.kind} · phase {ps.key} · action {j}")
        return call

    def _step_end(self, j: int, action: Action, ps: PhaseState, step_key: str, books: Bookkeeping) -> StepEnd:
        """The process's end as it will be once this step (its last) has succeeded, as `_finish` would write it; the
        step fills in its summary and the time (`StepEnd.completed`)."""
        state = self.run.state.model_copy(deep=True, update={"current_phase": None, "status": ProcessStatus.completed,
                                                             "end_reason": self.run.end_reason})
        phase = state.phase(ps.key)
        assert phase is not None
        phase.status = PhaseStatus.done
        phase.actions.append(ActionOutcome(index=j, kind=action.kind, step_key=step_key, at=workflow.now(),
                                           status="done"))
        return StepEnd(end=RunEnd(status=ProcessStatus.completed, ended_at=workflow.now(), ended_by=state.ended_by,
                                  end_reason=state.end_reason, state=state), phase_key=ps.key,
                       starts_phase=books.start is not None and books.start.line.phase_key == ps.key)
