"""The hand-written baselines: plain Temporal workflows doing the work of the bench templates, without the interpreter.

The trivial action is the same on both sides: one row in the record's history, written
once per step key (`activities.history.write_history_once` here; the template's
`add_history` inserts it with the step's bookkeeping lines). The template's action also
renders its text in the Jinja2 sandbox, with what the text uses loaded from the database;
the baseline formats its text in Python. That rendering, like the engine's own bookkeeping
(its history lines), is counted as the interpreter's cost.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from standardwebhooks.webhooks import Webhook as Signer

    from activities.deps import Deps
    from sqlmodel import col, update

    from activities.public_address import outbound_client
    from crm.deliveries import Delivery, DeliveryStatus
    from crm.idempotent import insert_once
    from crm.types import utcnow
    from activities.history import write_history_once
    from crm.models import HistoryEntry, HistoryKind

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                    maximum_interval=timedelta(minutes=1), maximum_attempts=5)
TIMEOUT = timedelta(minutes=2)


class WriteRowInput(BaseModel):
    step_key: str
    record_id: int
    workflow_id: str
    kind: HistoryKind = HistoryKind.note
    text: str


class BaselineInput(BaseModel):
    record_id: int
    steps: int = 5
    start_delay_seconds: float = 0  # scenario 4: park on a timer first
    wait_for_signal: bool = False  # scenario 3: write a row, wait for `advance`, write the next row


class BaselineActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="bench_write_row")
    async def write_row(self, input: WriteRowInput) -> int:
        entry = await write_history_once(self.deps, HistoryEntry(
            record_id=input.record_id, step_key=input.step_key, kind=input.kind, text=input.text,
            workflow_id=input.workflow_id, actor="baseline"))
        assert entry.id is not None
        return entry.id


@workflow.defn(name="BaselineWorkflow")
class BaselineWorkflow:
    """Scenario 1: N trivial activities in a row. Scenario 3: wait for a signal, then go on.
    Scenario 4: a row, a timer, a row (the same shape as the parked template)."""

    @workflow.init
    def __init__(self, input: BaselineInput) -> None:
        self._advance = False

    @workflow.run
    async def run(self, input: BaselineInput) -> int:
        wf = workflow.info().workflow_id
        written = 0

        async def row(key: str, text: str, kind: HistoryKind = HistoryKind.note) -> None:
            nonlocal written
            await workflow.execute_activity_method(
                BaselineActivities.write_row,
                WriteRowInput(step_key=f"{wf}/{key}", record_id=input.record_id, workflow_id=wf, kind=kind,
                              text=text),
                start_to_close_timeout=TIMEOUT, retry_policy=RETRY)
            written += 1

        if input.start_delay_seconds:
            await row("started", "parked", HistoryKind.process_started)
            await workflow.sleep(timedelta(seconds=input.start_delay_seconds))
        if input.wait_for_signal:
            await row("waiting", "waits for a signal")
            await workflow.wait_condition(lambda: self._advance)
        for i in range(input.steps):
            await row(f"step/{i}", f"step {i + 1} of {input.steps}")
        if input.start_delay_seconds:
            await row("ended", "done", HistoryKind.process_ended)
        return written

    @workflow.signal
    def advance(self) -> None:
        self._advance = True


class PostInput(BaseModel):
    endpoint: str
    body: str
    message_id: str
    step_key: str = ""  # with one: the delivery is recorded once before the POST, its answer after it
    record_id: int | None = None


class WebhookBaselineInput(BaseModel):
    record_id: int
    endpoint: str
    template: str = "bench-webhook"
    recorded: bool = False  # the activity records its delivery as a careful hand-written one would
    local: bool = False  # the POST runs as a local activity (`--baseline-activity local`), as the template's first try


class WebhookBaselineActivities:
    """Scenario 11's hand-written activity: the POST a `webhook` action makes (the same body, Standard Webhooks
    headers signed with the endpoint's secret, the same HTTP client); with a step key, it also keeps a delivery row
    as a careful hand-written activity would (inserted once by step key before the POST, its answer after)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="bench_post_webhook")
    async def post(self, input: PostInput) -> int:
        settings = self.deps.settings
        endpoint = settings.webhook_endpoints[input.endpoint]
        row = await self._record(input) if input.step_key else None
        now = datetime.now(UTC)
        headers = {"content-type": "application/json", "webhook-id": input.message_id,
                   "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Signer(endpoint.secret.get_secret_value()).sign(input.message_id, now,
                                                                                        input.body)}
        async with outbound_client(settings.webhook_read_timeout_seconds,
                                   settings.webhook_connect_timeout_seconds) as http:
            response = await http.post(endpoint.url, content=input.body.encode(), headers=headers)
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"the endpoint answered {response.status_code}")  # retried, like the action's 5xx
        if row is not None:
            async with self.deps.sessions() as session:
                await session.exec(update(Delivery).where(col(Delivery.id) == row.id).values(  # type: ignore[call-overload]
                    status=DeliveryStatus.delivered, response_status=response.status_code,
                    response_body=response.text[:2000], sent_at=utcnow()))
                await session.commit()
        return response.status_code

    async def _record(self, input: PostInput) -> Delivery:
        async with self.deps.sessions() as session:
            async def make() -> list[Delivery]:
                return [Delivery(step_key=input.step_key, kind="bench_webhook", message_id=input.message_id,
                                 record_id=input.record_id, target=input.endpoint, body=input.body,
                                 status=DeliveryStatus.sending, attempts=1)]

            return await insert_once(session, Delivery, input.step_key, make)


@workflow.defn(name="WebhookBaselineWorkflow")
class WebhookBaselineWorkflow:
    """Scenario 11: one activity POSTing the body the bench template's webhook renders."""

    @workflow.run
    async def run(self, input: WebhookBaselineInput) -> int:
        wf = workflow.info().workflow_id
        body = json.dumps({"process": wf, "template": input.template, "phase": "post", "record": input.record_id},
                          separators=(",", ":"))
        message_id = f"msg_{hashlib.sha256(f'{wf}/post/0/0'.encode()).hexdigest()[:32]}"
        recorded = {"step_key": f"{wf}/post/0/0", "record_id": input.record_id} if input.recorded else {}
        post = PostInput(endpoint=input.endpoint, body=body, message_id=message_id, **recorded)
        if input.local:
            return await workflow.execute_local_activity_method(WebhookBaselineActivities.post, post,
                                                                start_to_close_timeout=TIMEOUT, retry_policy=RETRY)
        return await workflow.execute_activity_method(WebhookBaselineActivities.post, post,
                                                      start_to_close_timeout=TIMEOUT, retry_policy=RETRY)


def baseline_activities(deps: Deps) -> list[object]:
    return [BaselineActivities(deps).write_row, WebhookBaselineActivities(deps).post]


BASELINE_WORKFLOWS = [BaselineWorkflow, WebhookBaselineWorkflow]

__all__ = ["BASELINE_WORKFLOWS", "BaselineActivities", "BaselineInput", "BaselineWorkflow", "PostInput",
           "WebhookBaselineActivities", "WebhookBaselineInput", "WebhookBaselineWorkflow", "WriteRowInput"]
