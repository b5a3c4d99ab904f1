"""Duplicate, concurrent and late staff actions over HTTP: one outcome each, refusals with their reason."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.testing import WorkflowEnvironment

from api.auth import create_key
from crm.models import ApiRole, HistoryKind, TaskStatus
from processes.instance import ProcessStatus
from tests.factories import Factory
from tests.faults.conftest import Api, create_template, process_state, serve_api
from tests.figures import Figures
from tests.polling import eventually
from tests.workflows.helpers import final_state, history, outbox, running_worker, tasks
from workflows.process import ProcessWorkflow

PROBLEM = "application/problem+json"
CONTROLLER = "controller@agency.example"


def document(key: str, *, deadline_days: int | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {"key": "call", "name": "Call the client", "completion": "manual"}
    if deadline_days:
        call["deadline_days"] = deadline_days
    return {"key": key, "name": "Races", "controller_email": CONTROLLER, "record_kind": "lead", "phases": [
        call, {"key": "close", "name": "Close", "actions": [{"add_history": {"text": "Closed"}}]}]}


async def _start(api: Api, key: str, record_id: int) -> str:
    response = await api.http.post("/processes", headers=api.staff, json={"template": key, "record_id": record_id})
    assert response.status_code == 201, response.text
    workflow_id = response.json()["workflow_id"]

    async def task_open() -> bool:
        state = await process_state(api, workflow_id)
        return state is not None and state["phases"][0]["task_id"] is not None

    await eventually(task_open, 60, f"{workflow_id} waits on its task")
    return workflow_id


async def _deadline_timer_due(env: WorkflowEnvironment, workflow_id: str) -> datetime:
    """When the deadline timer of the process fires: the phase's deadline, plus the few milliseconds its
    workflow task took to start the timer.

    Skipping to the phase's `deadline_at` instead lands just before the timer fires, which then fires
    while the completion sent "at the deadline" is with the worker; the workflow cancels a timer that
    has fired, which the time-skipping server refuses and strands the run (a real server does not:
    temporalio/sdk-java#3088)."""
    async with asyncio.timeout(30):
        while True:
            events = (await env.client.get_workflow_handle(workflow_id).fetch_history()).events
            completed = None
            for event in events:
                if event.HasField("workflow_task_completed_event_attributes"):
                    completed = event.event_time.ToDatetime(tzinfo=UTC)
                if event.HasField("timer_started_event_attributes") and completed is not None:
                    return (completed + event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
                            + timedelta(milliseconds=1))  # microseconds in ToDatetime: not a hair before
            await asyncio.sleep(0.02)


def _refusal(response: Any) -> str:
    assert response.headers["content-type"] == PROBLEM, response.text
    return f"{response.status_code} {response.json()['type']}"


async def test_duplicate_and_late_staff_actions_over_http(dev_env: WorkflowEnvironment, sessions: Any,
                                                          factory: Factory, task_queue: str, database_url: str,
                                                          figures: Figures) -> None:
    """The same skip sent 10 times, racing staff actions, and actions after the end, over HTTP."""
    owner = await factory.user()
    record = await factory.record(owner=owner)
    key = f"races-{uuid.uuid4().hex[:6]}"
    async with (serve_api(sessions, dev_env.client, database_url=database_url, task_queue=task_queue) as api,
                running_worker(dev_env.client, sessions, task_queue)):
        await create_template(api, document(key))

        # 1. the same skip, 10 times at once with one Idempotency-Key: applied once, the same answer to all
        same_key = await _start(api, key, record.id)
        headers = {**api.staff, "Idempotency-Key": f"skip-{uuid.uuid4().hex}"}
        answers = await asyncio.gather(*(api.http.post(f"/processes/{same_key}/skip", headers=headers,
                                                       json={"reason": "called already"}) for _ in range(10)))
        assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers]
        assert all(a.json()["phases"][0]["status"] == "skipped" for a in answers)
        # the skip ended the process (its last phase runs at once): the same key sent again after the end
        # learns what the first did, where a request without one is refused
        await dev_env.client.get_workflow_handle(same_key).result()
        again = await api.http.post(f"/processes/{same_key}/skip", headers=headers, json={"reason": "called already"})
        assert again.status_code == 200 and again.json() == answers[0].json(), again.text
        events = (await dev_env.client.get_workflow_handle(same_key).fetch_history()).events
        accepted = sum(e.HasField("workflow_execution_update_accepted_event_attributes") for e in events)

        # 2. ten staff members skip the phase they see at once, each without a key: one skip applies, the
        # others are told why. (They name the phase: "skip the current phase" sent twice may skip the next.)
        no_key = await _start(api, key, record.id)
        racing = await asyncio.gather(*(api.http.post(f"/processes/{no_key}/skip", headers=api.staff,
                                                      json={"phase": "call", "reason": f"clerk {i}"})
                                        for i in range(10)))
        refusals_without_key = sorted({_refusal(a) for a in racing if a.status_code != 200})
        # a late one finds the phase skipped, or the whole process already over (it has one more phase)
        assert all(a.status_code == 200 or _refusal(a) for a in racing)

        # 3. abort and complete racing on one phase: exactly one of them wins
        abort_or_complete = await _start(api, key, record.id)
        abort, complete = await asyncio.gather(
            api.http.post(f"/processes/{abort_or_complete}/abort", headers=api.staff, json={"reason": "withdrew"}),
            api.http.post(f"/processes/{abort_or_complete}/complete", headers=api.staff, json={}))
        final = await process_state(api, abort_or_complete)
        assert final is not None
        winner = ("abort" if final["status"] == "aborted" else "complete")
        loser = complete if winner == "abort" else abort
        assert (abort if winner == "abort" else complete).status_code == 200
        # the loser: refused (409), or answered with the state the winner left (the complete was accepted
        # first and the abort came too late for the phase, or the other way round)
        assert loser.status_code == 200 or _refusal(loser) in ("409 ProcessFinished", "409 InvalidPhaseState")

        # 4. late: skip a phase that ended, abort or complete a completed process, skip an unknown phase
        ended = await _start(api, key, record.id)
        done = await api.http.post(f"/processes/{ended}/complete", headers=api.staff, json={})
        assert done.status_code == 200 and done.json()["phases"][0]["status"] == "done", done.text
        await dev_env.client.get_workflow_handle(ended).result()
        late = {
            "skip the ended phase": await api.http.post(f"/processes/{ended}/skip", headers=api.staff,
                                                        json={"phase": "call"}),
            "abort after completion": await api.http.post(f"/processes/{ended}/abort", headers=api.staff,
                                                          json={"reason": "too late"}),
            "complete again": await api.http.post(f"/processes/{ended}/complete", headers=api.staff, json={}),
            "retry an incident after the end": await api.http.post(f"/processes/{ended}/incident",
                                                                   headers=api.staff, json={"action": "retry"}),
        }
        late_refusals = {what: _refusal(r) for what, r in late.items()}
        [task] = await tasks(sessions, ended)
        task_again = await api.http.post(f"/tasks/{task.id}/complete", headers=api.staff, json={})

    skipped = {w: [e.kind for e in await history(sessions, w)].count(HistoryKind.phase_skipped)
               for w in (same_key, no_key)}
    figures["identical skips sent with one Idempotency-Key"] = 10
    figures["skips applied (one key)"] = skipped[same_key]
    figures["the same skip sent again after the process ended"] = f"{again.status_code}, the first answer"
    figures["updates accepted by the workflow (one key)"] = accepted
    figures["concurrent skips without a key: applied"] = skipped[no_key]
    figures["concurrent skips without a key: answers"] = sorted({str(a.status_code) for a in racing})
    figures["abort racing complete: outcome"] = f"{winner} won, the other answered {loser.status_code}"
    for what, refusal in late_refusals.items():
        figures[f"{what}"] = refusal
    figures["complete the done task again"] = f"{task_again.status_code}"
    assert skipped == {same_key: 1, no_key: 1} and accepted == 1
    assert set(refusals_without_key) <= {"409 InvalidPhaseState", "409 ProcessFinished"}
    assert late_refusals == {"skip the ended phase": "409 ProcessFinished",
                             "abort after completion": "409 ProcessFinished",
                             "complete again": "409 ProcessFinished",
                             "retry an incident after the end": "409 ProcessFinished"}
    assert task_again.status_code in (200, 409), task_again.text
    assert task.status is TaskStatus.done
    entries = [e.kind for e in await history(sessions, abort_or_complete)]
    assert (entries.count(HistoryKind.process_aborted), entries.count(HistoryKind.process_ended)) == (
        (1, 0) if winner == "abort" else (0, 1))


async def test_complete_racing_the_deadline(time_skipping_env: WorkflowEnvironment, sessions: Any,
                                            factory: Factory, task_queue: str, database_url: str,
                                            figures: Figures) -> None:
    """Complete at the deadline, sent twice (time skipping): one completion, at most one controller email."""
    env = time_skipping_env
    owner = await factory.user()
    record = await factory.record(owner=owner)
    key = f"deadline-{uuid.uuid4().hex[:6]}"
    # how far before (-) or after (+) its deadline each process gets its two completions
    offsets = {"1 s before": timedelta(seconds=-1), "at the deadline": timedelta(0),
               "1 s after": timedelta(seconds=1), "1 h after": timedelta(hours=1)}
    async with (serve_api(sessions, env.client, database_url=database_url, task_queue=task_queue) as api,
                running_worker(env.client, sessions, task_queue)):
        await create_template(api, document(key, deadline_days=1))
        ids = {when: await _start(api, key, record.id) for when in offsets}
        answers: dict[str, list[Any]] = {}
        for when, offset in offsets.items():  # in order of time
            due = await _deadline_timer_due(env, ids[when]) + offset
            if (wait := due - await env.get_current_time()) > timedelta(0):
                await env.sleep(wait)
            answers[when] = await asyncio.gather(*(api.http.post(
                f"/processes/{ids[when]}/complete", headers=api.staff, json={}) for _ in range(2)))
        results = {when: await env.client.get_workflow_handle_for(ProcessWorkflow.run, w).result()
                   for when, w in ids.items()}

    figures["processes"] = len(offsets)
    figures["completions sent (2 per process)"] = 2 * len(offsets)
    for when, workflow_id in ids.items():
        pair = answers[when]
        assert sorted(a.status_code for a in pair) in ([200, 200], [200, 409]), [a.text for a in pair]
        assert all(a.status_code == 200 or _refusal(a) in ("409 ProcessFinished", "409 InvalidPhaseState")
                   for a in pair)
        assert results[when].status is ProcessStatus.completed
        controller = [m for m in await outbox(sessions, workflow_id) if m.to_address == CONTROLLER]
        entries = [e.kind for e in await history(sessions, workflow_id)]
        assert len(controller) <= 1 and entries.count(HistoryKind.phase_done) == 2, entries
        assert entries.count(HistoryKind.phase_overdue) == len(controller)
        assert results[when].phases[0].overdue == bool(controller)
        figures[f"completed {when}: answers"] = sorted(a.status_code for a in pair)
        figures[f"completed {when}: controller emails"] = len(controller)
    assert not results["1 s before"].phases[0].overdue and results["1 h after"].phases[0].overdue


async def test_an_idempotency_key_names_one_request(dev_env: WorkflowEnvironment, sessions: Any, factory: Factory,
                                                    task_queue: str, database_url: str, figures: Figures) -> None:
    """A key sent with another request (operation, body, process or caller) is refused; with its own, answered"""
    owner = await factory.user()
    record = await factory.record(owner=owner)
    key = f"keys-{uuid.uuid4().hex[:6]}"
    wait = {"key": "wait", "name": "Wait for the documents", "completion": "manual"}
    doc = document(key)
    doc["phases"].insert(1, wait)  # the skip of "call" leaves the process waiting, not ended
    async with (serve_api(sessions, dev_env.client, database_url=database_url, task_queue=task_queue) as api,
                running_worker(dev_env.client, sessions, task_queue)):
        await create_template(api, doc)
        async with sessions() as session:
            _, other_staff = await create_key(session, "another clerk", ApiRole.staff)
        first, second = await _start(api, key, record.id), await _start(api, key, record.id)
        k = {**api.staff, "Idempotency-Key": f"k-{uuid.uuid4().hex}"}
        skip = {"phase": "call", "reason": "called already"}
        skipped = await api.http.post(f"/processes/{first}/skip", headers=k, json=skip)
        assert skipped.status_code == 200 and skipped.json()["phases"][0]["status"] == "skipped", skipped.text
        refused = {
            "another operation": await api.http.post(f"/processes/{first}/abort", headers=k,
                                                     json={"reason": "withdrew"}),
            "another body": await api.http.post(f"/processes/{first}/skip", headers=k,
                                                json={**skip, "reason": "wrong number"}),
            "another process": await api.http.post(f"/processes/{second}/skip", headers=k, json=skip),
            "another caller": await api.http.post(f"/processes/{first}/skip", json=skip,
                                                  headers={"X-API-Key": other_staff,
                                                           "Idempotency-Key": k["Idempotency-Key"]}),
        }
        state = await process_state(api, first)
        assert state is not None
        again = await api.http.post(f"/processes/{first}/skip", headers=k, json={"reason": "called already",
                                                                               "phase": "call"})
        # the same request, after the process ended: still its own answer
        aborted = await api.http.post(f"/processes/{first}/abort", json={"reason": "withdrew"},
                                      headers={**api.staff, "Idempotency-Key": f"k-{uuid.uuid4().hex}"})
        await final_state(dev_env.client.get_workflow_handle_for(ProcessWorkflow.run, first))  # aborted
        after_end = await api.http.post(f"/processes/{first}/skip", headers=k, json=skip)
        second_state = await process_state(api, second)

    figures["a key reused for another operation, body, process or caller"] = \
        ", ".join(sorted({_refusal(r) for r in refused.values()}))
    figures["the same request with its key again, and after the process ended"] = \
        f"{again.status_code}, {after_end.status_code}: the first answer"
    for what, response in refused.items():
        assert _refusal(response) == "422 IdempotencyKeyReused", (what, response.text)
    assert "first sent with another request (skip_phase on" in refused["another operation"].json()["detail"]
    assert "another caller" in refused["another caller"].json()["detail"]  # whose request is not said
    assert state["status"] == "running" and state["current_phase"] == "wait"  # the abort did not apply
    assert second_state is not None and second_state["phases"][0]["status"] == "running"
    assert again.status_code == 200 and again.json() == skipped.json(), again.text
    assert aborted.status_code == 200 and aborted.json()["status"] == "aborted", aborted.text
    assert after_end.status_code == 200 and after_end.json() == skipped.json(), after_end.text


async def test_a_task_completed_or_a_case_closed_again_with_its_key_answers_what_it_did(
        dev_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str, database_url: str) -> None:
    """Completing a phase's task and closing a case took no Idempotency-Key: a retry of a request whose answer was
    lost got 409 for doing it twice. An empty key applied the request every time it was sent."""
    record = await factory.record(owner=await factory.user())
    key = f"keys-{uuid.uuid4().hex[:6]}"
    async with (serve_api(sessions, dev_env.client, database_url=database_url, task_queue=task_queue) as api,
                running_worker(dev_env.client, sessions, task_queue)):
        await create_template(api, document(key))
        workflow_id = await _start(api, key, record.id)
        for empty in ("", "a b", "caff\xe8".encode("latin-1")):
            refused = await api.http.post(f"/processes/{workflow_id}/skip", json={"phase": "call"},
                                          headers={**api.staff, "Idempotency-Key": empty})
            assert refused.status_code == 422, (empty, refused.text)
            assert [e["path"] for e in refused.json()["errors"]] == ["header.Idempotency-Key"], refused.text
        [task] = await eventually(lambda: tasks(sessions, workflow_id), what="the phase's task")
        k = {**api.staff, "Idempotency-Key": f"k-{uuid.uuid4().hex}"}
        done = [await api.http.post(f"/tasks/{task.id}/complete", headers=k, json={"answers": {"esito": "ok"}})
                for _ in range(2)]
        other_body = await api.http.post(f"/tasks/{task.id}/complete", headers=k, json={"answers": {"esito": "no"}})
        without_key = await api.http.post(f"/tasks/{task.id}/complete", headers=api.staff, json={})

        case = await api.http.post("/cases", headers=api.staff, json={"name": f"Pratica {key}"})
        assert case.status_code == 201, case.text
        c = {**api.staff, "Idempotency-Key": f"c-{uuid.uuid4().hex}"}
        closed = [await api.http.post(f"/cases/{case.json()['id']}/close", headers=c, json={"reason": "fatto"})
                  for _ in range(2)]
        closed_other = await api.http.post(f"/cases/{case.json()['id']}/close", headers=c, json={"reason": "altro"})
    assert [r.status_code for r in done] == [200, 200] and done[0].json() == done[1].json(), done[1].text
    assert done[0].json()["status"] == "done"
    assert _refusal(other_body) == "422 IdempotencyKeyReused" and _refusal(without_key) == "409 InvalidPhaseState"
    assert [r.status_code for r in closed] == [200, 200] and closed[1].json()["state"] == "closed", closed[1].text
    assert _refusal(closed_other) == "422 IdempotencyKeyReused"
    lines = [e.kind for e in await history(sessions, workflow_id)]
    assert lines.count(HistoryKind.phase_done) == 2  # "call", once, then "close"
