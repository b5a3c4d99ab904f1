"""What a phase's decision reads of the answers staff give when they complete it (`processes/decision_answers.py`),
for the console's completion forms: shown beside the answers, names and values taken in any case, and a completion
that gives none of them asked to be confirmed (the decision would take its default way: a client emailed a refusal
because a task was closed without its answer)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm import template_store
from crm.models import TaskKind
from crm.process_runs import ProcessRun
from processes.decision_answers import Compared, answers_read
from processes.errors import TemplateNotFound
from processes.stage_templates import is_stage
from processes.template import Phase, ProcessTemplate

Read = dict[str, list[Compared]]


async def phase_reads(session: AsyncSession, workflow_id: str, phase_key: str | None) -> Read:
    """What the decision after the process's phase reads; nothing for a phase without one, a process of a status's
    automations, or a process not found."""
    if not phase_key:
        return {}
    run = (await session.exec(select(ProcessRun).where(col(ProcessRun.workflow_id) == workflow_id))).first()
    return await _run_reads(session, run, phase_key) if run is not None else {}


async def _run_reads(session: AsyncSession, run: ProcessRun, phase_key: str,
                     templates: dict[tuple[str, int], ProcessTemplate | None] | None = None) -> Read:
    """What the run's phase's answers reach; `templates`: the versions read for the page already."""
    if is_stage(run.template_key):  # a status's automations: no saved template, and no decision
        return {}
    at = (run.template_key, run.template_version)
    if templates is None or at not in templates:
        try:
            version = await template_store.get_version(session, *at)
            template: ProcessTemplate | None = await template_store.parsed(session, *at, version.checksum)
        except TemplateNotFound:
            template = None
        if templates is not None:
            templates[at] = template
    else:
        template = templates[at]
    return _read_after(template.phases, phase_key) if template is not None else {}


def _read_after(phases: list[Phase], phase_key: str) -> Read:
    """What the decisions the phase's answers reach read: its own, else the first decision of the automatic phases
    that follow it (a manual phase, then one that only decides: `route` in docs/templates.md), up to the next
    manual phase."""
    index = next((i for i, p in enumerate(phases) if p.key == phase_key), None)
    read: Read = {}
    seen: set[int] = set()
    while index is not None and index not in seen:
        seen.add(index)
        phase = phases[index]
        for name, values in answers_read(phase).items():
            read.setdefault(name, []).extend(v for v in values if v not in read[name])
        if phase.decision:  # it sends the process on: what comes after depends on it
            break
        index = next((i for i, p in enumerate(phases) if p.key == phase.next), None) if phase.next else \
            (index + 1 if index + 1 < len(phases) else None)
        if index is not None and phases[index].completion == "manual":
            break
    return read


async def task_reads(session: AsyncSession, tasks: Iterable[Any]) -> dict[int, Read]:
    """By task id, what the decision after each phase task's phase reads (only those that read something)."""
    phase_tasks = [t for t in tasks if t.kind is TaskKind.phase and t.workflow_id and t.phase_key]
    runs = {r.workflow_id: r for r in (await session.exec(select(ProcessRun).where(  # one read for the page
        col(ProcessRun.workflow_id).in_({t.workflow_id for t in phase_tasks})))).all()} if phase_tasks else {}
    reads: dict[int, Read] = {}
    templates: dict[tuple[str, int], ProcessTemplate | None] = {}
    for task in phase_tasks:
        if (run := runs.get(task.workflow_id)) is not None and \
                (read := await _run_reads(session, run, task.phase_key, templates)):
            reads[task.id] = read
    return reads


def said_reads(read: Read, _: Any) -> str:
    """`esito (accettato, rifiutato o perso), importo`: each answer with the values the decision compares it with."""
    parts = []
    for name, values in read.items():
        shown = [str(v) for v in values if isinstance(v, (str, bool))] or \
            ([_("a number")] if values else [])
        if len(shown) > 1:
            shown = [", ".join(shown[:-1]) + f" {_('or')} " + shown[-1]]
        parts.append(f"{name} ({shown[0]})" if shown else name)
    return ", ".join(parts)
