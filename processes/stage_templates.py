"""A status's automations as process templates: what a stage visit runs, with everything processes have.

When a record enters a status (or a substate opens), the automations that apply to its channel become one
process: a first phase with the on-enter actions, then a phase per scheduled automation, each starting when
its span since the entry is over. When the record leaves, that process is aborted (what is scheduled does not
happen) and the on-exit actions run as a process of their own. Running them as processes gives stage
automations the interpreter's actions, step keys, incidents staff resolve, loop guard and Temporal
visibility, without a second engine. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Literal

from processes.history_words import history_text
from processes.pipeline import Automation, Pipeline
from processes.template import Phase, ProcessTemplate
from processes.template_basics import StartRule

When = Literal["enter", "exit"]
FALLBACK_CONTROLLER = "controller@invalid.example"  # only when checking a pipeline that names none (an error then)


@dataclass(frozen=True)
class StageTemplate:
    template: ProcessTemplate
    where: dict[tuple[int, int], str] = field(default_factory=dict)  # (phase, action) -> the automation's path


STAGE_PREFIX = "stage-"


def is_stage(template_key: str) -> bool:
    """Whether a process runs a status's automations (its template key is a `stage_key`)."""
    return template_key.startswith(STAGE_PREFIX)


def stage_key(pipeline_key: str, status: str, substate: str | None, when: When) -> str:
    """The template key of a stage's automations: stable, so the loop guard counts a status's visits per day."""
    digest = hashlib.sha256(f"{pipeline_key}\x00{status}\x00{substate or ''}\x00{when}".encode()).hexdigest()
    return f"{STAGE_PREFIX}{digest[:16]}"


def _span(delay: timedelta, locale: str) -> str:
    minutes = int(delay.total_seconds() // 60)
    for unit, size in (("day", 1440), ("hour", 60), ("minute", 1)):
        if minutes % size == 0:
            n = minutes // size
            return history_text(locale, f"span_{unit}{'s' if n != 1 else ''}", n=n)
    return history_text(locale, "span_minutes", n=minutes)  # pragma: no cover


def stage_template(pipeline: Pipeline, status: str, substate: str | None, when: When, channel: str | None,
                   path: str = "", locale: str = "en") -> StageTemplate | None:
    """The process of the automations that apply to a record of `channel` (None: all of them) entering (or leaving)
    the status or substate, named in the language of `locale` (the office's, LOCALE); None when there are none (then
    nothing runs, and nothing waits in Temporal)."""
    said = partial(history_text, locale)
    spec = pipeline.status(status)
    holder = spec.substate(substate) if spec is not None and substate else spec
    if holder is None:
        return None
    label = f"{status} › {substate}" if substate else status
    numbered = [(a, automation) for a, automation in enumerate(holder.automations) if channel is None or automation.applies_to(channel)]
    phases: list[Phase] = []
    where: dict[tuple[int, int], str] = {}

    def add(key: str, name: str, chosen: list[tuple[int, Automation]], start: StartRule) -> None:
        actions = []
        for a, automation in chosen:
            for j, action in enumerate(automation.actions):
                where[(len(phases), len(actions))] = f"{path}automations[{a}].actions[{j}]"
                actions.append(action)
        phases.append(Phase(key=key, name=name[:200], start=start, actions=actions))

    if when == "exit":
        if left := [(a, x) for a, x in numbered if x.on == "exit"]:
            add("left", said("stage_left", label=label), left, StartRule())
    else:
        if entered := [(a, x) for a, x in numbered if x.on == "enter"]:
            add("entered", said("stage_entered", label=label), entered, StartRule())
        # each counted from the entry (the process's start), not from the phase before: an incident in the on-enter
        # actions, or a slow step, does not push the scheduled ones later than their span says
        for n, (a, automation) in enumerate(sorted(((a, x) for a, x in numbered if x.on == "scheduled"),
                                                   key=lambda pair: pair[1].delay)):
            add(f"after-{n + 1}", said("stage_after", span=_span(automation.delay, locale), label=label),
                [(a, automation)],
                StartRule(after_minutes=int(automation.delay.total_seconds() // 60), since="process_start"))
    if not phases:
        return None
    template = ProcessTemplate(key=stage_key(pipeline.key, status, substate, when),
                               name=said(f"stage_on_{when}", pipeline=pipeline.name, label=label)[:200],
                               description=said("stage_description", label=label, pipeline=pipeline.key),
                               controller_email=pipeline.controller_email or FALLBACK_CONTROLLER,
                               record_kind=pipeline.record_kind, phases=phases)
    return StageTemplate(template=template, where=where)
