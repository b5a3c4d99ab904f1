"""What a process's Temporal history says that workflow code cannot see: who sent a signal."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity
from temporalio.api.enums.v1 import EventType

from activities.deps import Deps


class SignalSenderInput(BaseModel):
    workflow_id: str
    run_id: str
    event_id: int  # the signal's WorkflowExecutionSignaled event in that run


class TemporalHistoryActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="signal_sender")
    async def signal_sender(self, input: SignalSenderInput) -> str:
        """The Temporal identity on a signal's event (the CLI's `temporal-cli:user@host`, the Web UI's user);
        empty when that event is not a signal's."""
        handle = activity.client().get_workflow_handle(input.workflow_id, run_id=input.run_id)
        async for event in handle.fetch_history_events():
            if event.event_id < input.event_id:
                continue
            if event.event_id == input.event_id and \
                    event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
                return event.workflow_execution_signaled_event_attributes.identity
            break
        return ""
