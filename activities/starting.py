"""Starting a process from an activity, once per request id: autostart, a status's automations, `start_process`.

The run is allocated (and committed) with the request id first, then the workflow is started under its id;
a retry finds the run, and Temporal refuses a second start of the id, so the process starts once. The loop
guard counts the start here, where the run was allocated: one within the limit starts without asking again.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.deps import Deps
from activities.loop_guard import starts_today
from crm import template_store
from crm.process_runs import ProcessOrigin, allocate_run, mark_started
from processes.instance import ProcessInput, StageRef
from processes.template import ProcessTemplate
from workflows.client import start_process


async def start_run(deps: Deps, session: AsyncSession, template: ProcessTemplate, version: int, *, record_id: int,
                    owner_id: int, request_id: str, origin: ProcessOrigin, started_by: str,
                    triggered_by_user_id: int | None = None, stage: StageRef | None = None,
                    lineage: list[str] | None = None) -> str:
    """Start the process (or find it started by an earlier try); its workflow id. The caller commits."""
    assert deps.temporal is not None, "starting processes needs a Temporal client in Deps"
    run, _ = await allocate_run(session, template_key=template.key, template_version=version, record_id=record_id,
                                owner_id=owner_id, started_by=started_by, request_id=request_id, origin=origin,
                                triggered_by_user_id=triggered_by_user_id)
    if run.template_version != version and stage is None:
        # a run allocated by an earlier try is started as allocated, even if a newer version was saved since
        template = template_store.load(await template_store.get_version(session, template.key, run.template_version))
    # the loop guard's count, made here once the run is allocated: within the limit, the process need not ask
    starts = await starts_today(session, deps.settings.zone, template.key, record_id, run.workflow_id,
                                run.created_at)
    input = ProcessInput(template=template, template_version=run.template_version, record_id=run.record_id,
                         owner_id=run.owner_id, started_by=run.started_by, origin=origin.value,
                         triggered_by_user_id=run.triggered_by_user_id, stage=stage, lineage=lineage or [],
                         loop_guard_passed=starts <= deps.settings.loop_guard_limit)
    try:
        await start_process(deps.temporal, input, workflow_id=run.workflow_id,
                            task_queue=deps.settings.temporal_task_queue)
    except WorkflowAlreadyStartedError:
        pass  # an earlier try started it: this is the retry of the same start
    await mark_started(session, run.workflow_id)
    return run.workflow_id
