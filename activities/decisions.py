"""Decision phases: evaluate the branch conditions against the record, the answers and the phases so far."""

from __future__ import annotations

from functools import partial
from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import bookkeeping
from activities.deps import Deps
from activities.errors import final
from activities.step import StepInput, begin_step, prepare_step, render_variables
from crm.idempotent import insert_new
from crm.models import HistoryEntry, HistoryKind
from crm.types import utcnow
from processes.display import Office
from processes.errors import RenderError, RenderInterrupted
from processes.history_words import history_text
from processes.template import Branch


class DecideInput(BaseModel):
    step: StepInput
    branches: list[Branch]
    answers: dict[str, Any] = {}
    phases: dict[str, dict[str, Any]] = {}
    otherwise: str | None = None  # the phase when no condition holds; None: the process ends
    where: str = "decision"


class DecideResult(BaseModel):
    branch: int | None  # the first branch whose condition held; None: none did
    responsible_id: int | None = None  # the phase's responsible, when the step looked it up (books.start)


class DecisionActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="decide")
    async def decide(self, input: DecideInput) -> DecideResult:
        async with self.deps.sessions() as session:
            step = await prepare_step(session, input.step)
            variables = await render_variables(session, step, utcnow())
            variables |= {"answers": input.answers or step.answers, "phases": input.phases or step.phases}
            office = Office(step.locale or self.deps.settings.locale, self.deps.settings.timezone)
            try:  # evaluated before anything is written
                chosen = await self.deps.renderer.decide(
                    [(f"{input.where}[{b}].when", branch.when) for b, branch in enumerate(input.branches)],
                    variables, office=office)
            except RenderError as exc:
                raise final(exc) from None
            except RenderInterrupted as exc:
                raise ApplicationError(exc.message, type=exc.type) from None
            step, begun = await begin_step(session, step, locale=self.deps.settings.locale, prepared=True)
            said = partial(history_text, self.deps.settings.locale, phase=step.phase_name)
            text = said("decision_goto", goto=input.branches[chosen].goto) if chosen is not None else \
                said("decision_otherwise", goto=input.otherwise) if input.otherwise else said("decision_ends")
            line = HistoryEntry(record_id=step.record_id, step_key=step.step_key, kind=HistoryKind.decision, text=text,
                                workflow_id=step.workflow_id, phase_key=step.phase_key,
                                actor=f"process {step.template_key}", data={"branch": chosen})
            await insert_new(session, HistoryEntry,
                             [*begun.rows, line, *bookkeeping.after(step.books, self.deps.settings.locale)])
            await session.commit()
        return DecideResult(branch=chosen, responsible_id=step.responsible_id)
