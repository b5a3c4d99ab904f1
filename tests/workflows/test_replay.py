"""Saved histories (tests/histories, written by `python -m tests.histories.record`) replay on today's code.

A change to ProcessWorkflow or RecordEventsWorkflow that would break runs already in flight
fails here; and a deliberately changed workflow (tests/workflows/changed.py) must fail on every history, so the
check cannot pass vacuously. Replays run with the worker's own runner (`worker.RUNNER`, no sandbox), as the runs did:
with the default sandbox, each replay imported the workflows' modules afresh, and a failed replay kept them (about
35,000 objects each, which made this process's later garbage collections take seconds).
`<scenario>.<tag>.json` files are histories written by older code, kept by hand
(`*.before-abort-patch.json`: an abort answered before the `abort-answers-when-recorded` patch;
`*.before-decide-patch.json`: an automatic phase's decision passed over when its last step wrote
"phase done", before the `decide-after-the-step-that-ended-the-phase` patch;
`*.before-final-status.json`: the status turned final before the last history line, before
the `status-final-after-history` patch; `*.before-carry.json`: every history line, the responsible
lookup and the task closed were activities of their own, before the `phase-steps-carry-bookkeeping`
patch made them ride along with the phase's steps; `*.before-signals.json`: staff requests sent as
signals were dropped as unknown, before the `staff-requests-as-signals` patch; `*.before-sender.json`:
a signal naming no actor was recorded as "temporal signal", before the `signal-sender-identity` patch;
`*.before-last-step-end.json`: the end of a process written by an activity of its own after its last step, and
a marker for each patch, before the `last-step-writes-the-process-end` patch, whose one marker implies them;
`*.before-end-cancel.json`: an `end_process` after a `request_signature` left the request open, before the
`signatures-cancelled-when-the-process-ends` patch; `*.before-generations.json`: runs that asked Temporal for
their patches, one marker each, before processes carried the engine's generation (`ProcessInput.engine`); the
same scenarios recorded since carry generation 1 and record no marker); `*.generation-1.json`: every process
scenario as generation 1 ran it, each step attempt a regular activity, before generation 2 made a step's first attempt
a local activity (`workflows/first_attempt.py`); `record_events_dispatch.before-sweep-clock.json`:
the dispatcher waiting its whole sweep period again after every signal, before the `sweep-on-its-own-clock` patch).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from processes.instance import ENGINE, ProcessInput
from tests.figures import Figures
from tests.workflows.helpers import LOCAL_ACTIVITY_MARKER, activity_types
from tests.workflows.changed import DelayedRecordEventsWorkflow, ReorderedProcessWorkflow
from worker import RUNNER
from workflows.process import ProcessWorkflow
from workflows.record_events import RecordEventsWorkflow
from workflows.run import GENERATION_1, LATER

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))
SCENARIOS = ("automatic_emails", "manual_completed", "skip_and_abort", "incident_retry")
CARRIED = (*SCENARIOS, "decision_merge", "follow_up", "loop_continue_as_new", "loop_guard_cancelled")
LAST_STEP_END = ("automatic_emails", "decision_after_step", "follow_up", "signature_declined")
GENERATIONS = ("automatic_emails", "client_request_closed", "decision_after_step", "follow_up",
               "loop_continue_as_new", "signature_ended")
# every process scenario recorded before generation 2 (a scenario added since has no generation-1 history)
GENERATION_1_RUNS = ("appointment_cancelled", "automatic_emails", "client_request_answered", "client_request_closed",
                     "client_request_office_time", "client_request_skipped", "decision_after_step", "decision_merge",
                     "follow_up", "incident_retry", "loop_continue_as_new", "loop_guard_cancelled",
                     "manual_completed", "responsible_missing", "signal_large_answer", "signal_nul",
                     "signature_cancelled", "signature_declined", "signature_ended", "signature_expired",
                     "skip_and_abort", "staff_signals", "stage_automations")
SAVED = {f"{name}{tag}.json" for name in SCENARIOS for tag in ("", ".before-final-status")} | {
    f"{name}.before-carry.json" for name in CARRIED} | {
    "skip_and_abort.before-abort-patch.json", "decision_merge.json", "follow_up.json",
    "loop_continue_as_new.json", "loop_guard_cancelled.json", "record_events_dispatch.json",
    "responsible_missing.json", "staff_signals.json", "staff_signals.before-signals.json",
    "staff_signals.before-sender.json", "decision_after_step.json", "decision_after_step.before-decide-patch.json",
    "appointment_cancelled.json", "client_request_answered.json",
    "client_request_office_time.json", "signature_declined.json", "signature_expired.json",
    "client_request_closed.json", "signature_cancelled.json", "signature_ended.json",
    "signature_ended.before-end-cancel.json", "record_events_dispatch.before-sweep-clock.json",
    "signal_nul.json", "signal_nul.before-nul-refused.json", "local_attempt_retried.json"} | {
    f"{name}.generation-1.json" for name in GENERATION_1_RUNS} | {
    f"{name}.before-last-step-end.json" for name in LAST_STEP_END} | {
    f"{name}.before-generations.json" for name in GENERATIONS}
DISPATCHER = {"record_events_dispatch"}  # RecordEventsWorkflow histories; the others are ProcessWorkflow's


def saved(path: Path) -> WorkflowHistory:
    scenario = path.name.split(".")[0]
    return WorkflowHistory.from_json(f"replay-{scenario}", path.read_text())


def test_every_scenario_is_saved(figures: Figures) -> None:
    """Replay: a saved history for every workflow path, and for the code before each patch"""
    assert {p.name for p in HISTORIES} >= SAVED
    figures["histories saved"] = len(HISTORIES)
    figures["ProcessWorkflow paths"] = ", ".join(sorted({p.name.split(".")[0] for p in HISTORIES
                                                         if not dispatcher(p)}))
    figures["RecordEventsWorkflow paths"] = ", ".join(sorted(DISPATCHER))
    figures["histories of code before a patch"] = ", ".join(sorted(p.stem for p in HISTORIES if p.stem.count(".")))
    figures["events replayed"] = sum(len(saved(p).events) for p in HISTORIES)
    figures["each must also fail replay against a changed workflow"] = "yes (test_a_changed_workflow_fails_replay)"


def test_a_process_of_this_engine_generation_records_no_patch_marker() -> None:
    """Replay: the runs recorded with the engine's generation take every patch without a marker"""
    for name in GENERATIONS:
        events = saved(HISTORIES[0].parent / f"{name}.json").events
        started = events[0].workflow_execution_started_event_attributes.input.payloads[0]
        assert ProcessInput.model_validate_json(started.data).engine == ENGINE, name
        assert not [e for e in events if e.HasField("marker_recorded_event_attributes")
                    and e.marker_recorded_event_attributes.marker_name != LOCAL_ACTIVITY_MARKER], name
    old = saved(HISTORIES[0].parent / "automatic_emails.before-generations.json").events
    assert [e for e in old if e.HasField("marker_recorded_event_attributes")]


def test_a_process_of_generation_2_makes_each_step_s_first_attempt_locally() -> None:
    """Replay: generation 2 runs a step's first attempt as a local activity (a marker) and only a step that needed a
    retry as a regular one; generation 1 scheduled every attempt as an activity"""
    events = saved(HISTORIES[0].parent / "automatic_emails.json").events
    assert len(activity_types(events)) >= 6 and not [e for e in events if e.HasField(
        "activity_task_scheduled_event_attributes")]
    old = saved(HISTORIES[0].parent / "automatic_emails.generation-1.json").events
    assert not [e for e in old if e.HasField("marker_recorded_event_attributes")]
    assert activity_types(old) == activity_types(events)  # the same steps, run the other way
    retried = saved(HISTORIES[0].parent / "local_attempt_retried.json").events
    assert activity_types(retried) == ["webhook"] * 4  # each cut off or refused locally, then done as an activity
    assert [e.marker_recorded_event_attributes.failure.message for e in retried
            if e.HasField("marker_recorded_event_attributes")] == ["Activity timed out",
                                                                    "webhook endpoint 'busy' answered 503"]


def test_every_patch_of_the_process_workflow_belongs_to_generation_1_or_came_later() -> None:
    """Replay: the runs of generation 1 take every patch the process workflow asks for but those made after it
    (`LATER`, asked of `workflow.patched` by every run); no name drifted from the sets"""
    # read from the sources: every module's constants, whether a replay here imports the module or not
    sources = [path for path in (Path(__file__).parents[2] / "workflows").glob("*.py") if path.stem != "record_events"]
    patches = {node.value.value for path in sources for node in ast.parse(path.read_text()).body
               if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
               and any(isinstance(t, ast.Name) and t.id.startswith("PATCH_") for t in node.targets)}
    assert "last-step-writes-the-process-end" in patches and patches <= GENERATION_1 | LATER, \
        patches - GENERATION_1 - LATER
    assert not GENERATION_1 & LATER


def dispatcher(path: Path) -> bool:
    return path.name.split(".")[0] in DISPATCHER


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_saved_history_replays(path: Path) -> None:
    replayer = Replayer(workflows=[ProcessWorkflow, RecordEventsWorkflow], data_converter=pydantic_data_converter,
                        workflow_runner=RUNNER)
    result = await replayer.replay_workflow(saved(path), raise_on_replay_failure=False)
    assert result.replay_failure is None


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_a_changed_workflow_fails_replay(path: Path) -> None:
    changed = DelayedRecordEventsWorkflow if dispatcher(path) else ReorderedProcessWorkflow
    replayer = Replayer(workflows=[changed], data_converter=pydantic_data_converter, workflow_runner=RUNNER)
    with pytest.raises(workflow.NondeterminismError):
        await replayer.replay_workflow(saved(path), raise_on_replay_failure=True)
