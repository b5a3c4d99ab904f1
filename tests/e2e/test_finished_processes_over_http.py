"""Finished processes stay listed and readable after Temporal has forgotten them (its retention: 24 h on the dev
server), from Stagecoach's own database; live ones are listed with their phase from Temporal."""

from __future__ import annotations

from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from tests.e2e.calls import call_a_lead
from tests.e2e.conftest import Stack
from tests.polling import eventually

async def test_an_aborted_process_is_listed_and_read_after_temporal_forgot_it(stack: Stack, dev_env: Any) -> None:
    http, admin, staff = stack.http, stack.as_("admin"), stack.as_("staff")
    key, record_id = await call_a_lead(http, admin, staff)
    ended, live = [(await http.post("/processes", headers=staff, json={"template": key, "record_id": record_id}
                                    )).json()["workflow_id"] for _ in range(2)]

    async def waiting(workflow_id: str) -> Any:
        return (await http.get(f"/processes/{workflow_id}", headers=staff)).json()["phases"][0]["task_id"]

    await eventually(lambda: waiting(ended))
    await eventually(lambda: waiting(live))
    aborted = await http.post(f"/processes/{ended}/abort", headers=staff, json={"reason": "client withdrew"})
    assert aborted.status_code == 200, aborted.text
    actor = aborted.json()["ended_by"]
    assert actor.endswith("e2e staff")

    async def canceled() -> bool:
        description = await dev_env.client.get_workflow_handle(ended).describe()
        return description.status is WorkflowExecutionStatus.CANCELED

    await eventually(canceled)
    # Temporal's retention deletes the run: as if a day had passed
    await dev_env.client.workflow_service.delete_workflow_execution(DeleteWorkflowExecutionRequest(
        namespace=dev_env.client.namespace, workflow_execution=WorkflowExecution(workflow_id=ended)))

    async def forgotten() -> bool:
        try:
            await dev_env.client.get_workflow_handle(ended).describe()
            return False
        except RPCError:
            return True

    await eventually(forgotten)
    state = await http.get(f"/processes/{ended}", headers=staff)
    assert state.status_code == 200, state.text
    assert (state.json()["status"], state.json()["ended_by"], state.json()["end_reason"]) == (
        "aborted", actor, "client withdrew")
    assert state.json()["phases"][0]["skip_reason"] == "process aborted"

    async def listed() -> Any:
        page = (await http.get("/processes", headers=staff, params={"template": key})).json()
        items = {item["workflow_id"]: item for item in page["items"]}
        return items if items.get(live, {}).get("current_phase") == "call" else None

    items = await eventually(listed)
    assert list(items) == [live, ended]  # newest first
    assert {k: items[ended][k] for k in ("status", "ended_by", "end_reason", "current_phase")} == {
        "status": "aborted", "ended_by": actor, "end_reason": "client withdrew", "current_phase": None}
    assert items[ended]["closed_at"] is not None
    assert (items[live]["status"], items[live]["ended_by"], items[live]["closed_at"]) == ("running", None, None)
    by_status = (await http.get("/processes", headers=staff, params={"template": key, "status": "aborted"})).json()
    assert [item["workflow_id"] for item in by_status["items"]] == [ended]
    # paging through the database
    first = (await http.get("/processes", headers=staff, params={"template": key, "limit": 1})).json()
    second = (await http.get("/processes", headers=staff, params={"template": key, "limit": 1,
                                                                  "page_token": first["next_page_token"]})).json()
    assert [i["workflow_id"] for i in first["items"] + second["items"]] == [live, ended]
    assert second["next_page_token"] is None
