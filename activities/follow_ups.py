"""Follow-up processes: reserve the id and pin the template version a follow-up will start with."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity

from activities.deps import Deps
from activities.errors import final, final_message
from activities.responsible import resolve_user_id
from activities.step import load_record
from crm import template_store
from crm.process_runs import ProcessOrigin, allocate_run
from processes.errors import StagecoachError
from processes.action_kinds import StartFollowUp
from processes.template import ProcessTemplate


class PrepareFollowUpInput(BaseModel):
    step_key: str
    parent_workflow_id: str
    record_id: int
    owner_id: int
    triggered_by_user_id: int | None = None
    action: StartFollowUp


class FollowUpPlan(BaseModel):
    workflow_id: str
    template: ProcessTemplate
    template_version: int
    record_id: int
    owner_id: int


class FollowUpActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="prepare_follow_up")
    async def prepare_follow_up(self, input: PrepareFollowUpInput) -> FollowUpPlan:
        """The latest version of the follow-up's template, its record and owner, and its reserved id.

        Keyed by the action's step key: a retry gets the same id, never a second process.
        """
        action = input.action
        async with self.deps.sessions() as session:
            record = await load_record(session, input.record_id)
            if action.record == "contact":
                if record.contact_id is None:
                    raise final_message("RecordNotFound", f"record {record.id} has no linked contact to follow up on")
                record = await load_record(session, record.contact_id)
            assert record.id is not None
            try:
                row = await template_store.get_version(session, action.template)
            except StagecoachError as exc:
                raise final(exc) from None
            template = template_store.load(row)
            if template.record_kind != record.kind:
                raise final_message("RecordKindMismatch", f"template '{template.key}' runs on "
                                                          f"{template.record_kind.value} records, not on "
                                                          f"record {record.id} ({record.kind.value})")
            owner_id = await resolve_user_id(session, action.owner, record.id, input.owner_id)
            run, _ = await allocate_run(
                session, template_key=template.key, template_version=row.version, record_id=record.id,
                owner_id=owner_id, started_by=f"follow-up of {input.parent_workflow_id}",
                request_id=f"follow-up:{input.step_key}", origin=ProcessOrigin.follow_up,
                parent_workflow_id=input.parent_workflow_id, triggered_by_user_id=input.triggered_by_user_id)
        return FollowUpPlan(workflow_id=run.workflow_id, template=template, template_version=run.template_version,
                            record_id=run.record_id, owner_id=run.owner_id)
