"""Starting a `ProcessWorkflow`: its id, search attributes and Temporal UI summary, in one place."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy

from processes.instance import ProcessInput, ProcessState
from workflows import search_attributes as sa
from workflows.process import ProcessWorkflow


async def start_process(client: Client, input: ProcessInput, *, workflow_id: str,
                        task_queue: str) -> WorkflowHandle[ProcessWorkflow, ProcessState]:
    template = input.template
    return await client.start_workflow(
        ProcessWorkflow.run,
        input,
        id=workflow_id,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=sa.initial(template.key, input.record_id, input.owner_id, template.phases[0].key),
        static_summary=input.summary(),
        static_details=input.details(),
    )

