"""Starting a `ProcessWorkflow`: its id, search attributes and Temporal UI summary, in one place."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy

from processes.instance import ProcessInput, ProcessState, ProcessStatus
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
        search_attributes=TypedSearchAttributes([
            SearchAttributePair(sa.TEMPLATE, template.key),
            SearchAttributePair(sa.RECORD, str(input.record_id)),
            SearchAttributePair(sa.OWNER, str(input.owner_id)),
            SearchAttributePair(sa.STATUS, ProcessStatus.running.value),
            SearchAttributePair(sa.PHASE, template.phases[0].key),
        ]),
        static_summary=f"{template.key} v{input.template_version} on {template.record_kind.value} {input.record_id}",
        static_details=f"{len(template.phases)} phases: " + " → ".join(p.key for p in template.phases),
    )
