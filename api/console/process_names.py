"""What the console calls a process: its template's name ("Preventivo fotovoltaico"; a status's automations: "Impianti
· Sopralluogo · all'ingresso"), where its workflow id (`process-stage-84f0805515344b08-27-1`) said nothing to an
office."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from crm import pipeline_store, template_store
from processes.history_words import history_text
from processes.stage_templates import When, stage_key

PIPELINES_READ = 200


async def template_names(session: AsyncSession, locale: str) -> dict[str, str]:
    """By template key, its name: the saved templates', and those of every status's (and substate's) automations of
    the pipelines' latest versions, in the office's language."""
    names = {t.key: t.name for t in await template_store.summaries(session)}
    for summary in await pipeline_store.summaries(session, None, limit=PIPELINES_READ, offset=0):
        pipeline = pipeline_store.load(await pipeline_store.get_version(session, summary.key))
        for status in pipeline.statuses:
            for substate, label in [(None, status.name), *((s.name, f"{status.name} › {s.name}")
                                                            for s in status.substates)]:
                when: When
                for when in ("enter", "exit"):
                    key = stage_key(pipeline.key, status.name, substate, when)
                    names[key] = history_text(locale, f"stage_on_{when}", pipeline=pipeline.name, label=label)[:200]
    return names
