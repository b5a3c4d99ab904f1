"""A start's run, allocated before Temporal is asked: the record and the template version read, checked, and the run
inserted and committed under the record's next number (or the run its request id allocated before), with no
connection held while Temporal answers (`api.routers.processes.start_with` starts it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import Principal
from api.fields import Key
from api.references import named_in_body
from api.routers.records import get_record_or_404
from api.routers.users import get_user_or_404
from crm import template_store
from crm.db import Direct, direct_alone, each_statement_alone, statements_alone
from crm.process_runs import NewRun, ProcessRun, allocate_run, insert_run
from crm.start_reads import StartReads, read_and_insert, start_reads
from processes.errors import ErrorDetail, OwnerMissing, RecordKindMismatch, RequestIdReused
from processes.sent_values import WholeNumber
from processes.template import ProcessTemplate


class StartProcessBody(BaseModel):
    template: Key
    record_id: WholeNumber
    version: WholeNumber | None = Field(None, ge=1, description="a template version; the latest when empty")
    owner_id: WholeNumber | None = Field(None, description="the process owner; the caller's user, else the record's owner")
    request_id: str | None = Field(None, max_length=200, description="retrying with the same id (and the same API "
                                   "key) starts nothing new and answers with the first start")



async def allocate(body: StartProcessBody, session: AsyncSession, principal: Principal
                    ) -> tuple[ProcessRun | NewRun, bool, ProcessTemplate, int]:
    """The start's run (inserted and committed, or the one its request id allocated before: then not `created`), its
    template and the version's number."""
    # Each statement on its own (no BEGIN, no COMMIT), on a pooled connection with no ORM session around it: the
    # record and the template version in one, then the run's insert, which takes the next number itself. On
    # PostgreSQL, when this process has the template version at hand, the reads and the insert are one statement
    # (`read_and_insert`), which inserts only if the reads are what it expects; tried once more on a new connection
    # when the pooled one proves dead, as the reads alone are (should the first have committed as the database went
    # away, its run is never started: the sweep marks it not started; with a request id, the second finds it and
    # starts it). The run is committed before Temporal is asked, and no connection is held while Temporal answers.
    # A start that needs more (a record or template not found, a restricted record, an owner to check, a template not
    # parsed yet) lets that connection go and goes the session's way, as does a number or request id taken
    # meanwhile: never two at once. On PostgreSQL the statements go straight through psycopg (crm.db.Direct),
    # without SQLAlchemy's execution.
    engine = session.bind  # the AsyncEngine (get_bind() is its sync engine)
    direct = engine.dialect.name == "postgresql"
    connection: AsyncConnection | Direct
    found: StartReads | None = None
    expected = template_store.at_hand(body.template, body.version) if direct and body.owner_id is None else None
    if expected is not None:
        number, checksum, template = expected
        try:
            connection, (found, inserted) = await direct_alone(engine, lambda c: read_and_insert(
                c, template_key=body.template, version=number, latest=body.version is None, checksum=checksum,
                kind=template.record_kind, record_id=body.record_id, user_id=principal.user_id,
                started_by=principal.actor, request_id=_request_id(principal, body.request_id)))
        except IntegrityError:  # a number or request id taken meanwhile: as below, from the reads
            expected = None
        else:
            if inserted is not None:
                await connection.close()
                return inserted, True, template, number
    if expected is None:
        connection, found = await (direct_alone if direct else statements_alone)(  # type: ignore[operator]
            engine, lambda c: start_reads(c, body.record_id, body.template, body.version))
    by_session = (found is None or found.version is None or found.checksum is None or found.record_restricted
                  or body.owner_id is not None or not template_store.is_parsed(body.template, found.version,
                                                                                found.checksum))
    try:
        if by_session:
            await connection.close()
            await each_statement_alone(session)
        if found is None or found.version is None or found.checksum is None or found.record_restricted:
            template, version = await named_in_body(  # or why not
                "body.template", template_store.for_start(session, body.template, body.version))
            record = await named_in_body("body.record_id", get_record_or_404(session, body.record_id, principal))
            kind, record_owner = record.kind, record.owner_id
        else:
            template = await template_store.parsed(session, body.template, found.version, found.checksum)
            version, kind, record_owner = found.version, found.record_kind, found.record_owner_id
        if kind != template.record_kind:
            raise RecordKindMismatch(f"template '{template.key}' runs on {template.record_kind.value} records; record "
                                     f"{body.record_id} is {'an' if kind.value[0] in 'aeiou' else 'a'} {kind.value}")
        owner_id = body.owner_id if body.owner_id is not None else principal.user_id or record_owner  # 0: no user
        if owner_id is None:
            raise OwnerMissing("no process owner: give owner_id, use a key tied to a user, or give the record an "
                               "owner", details=[ErrorDetail("body.owner_id", "needed: the record has no owner and "
                                                                              "the key is tied to no user")])
        if body.owner_id is not None:  # the key's user and the record's owner exist (foreign keys; none is deleted)
            await named_in_body("body.owner_id", get_user_or_404(session, owner_id))
        allocation: dict[str, Any] = dict(  # the run's columns, for `insert_run` and `allocate_run` alike
            template_key=body.template, template_version=version, record_id=body.record_id, owner_id=owner_id,
            started_by=principal.actor, request_id=_request_id(principal, body.request_id),
            triggered_by_user_id=principal.user_id)
        inserted = await _insert_alone(connection, allocation)
    finally:
        await connection.close()
    run: ProcessRun | NewRun
    if inserted is not None:
        run, created = inserted, True
    else:  # the session's way (after a conflict on the connection: taking turns at once)
        run, created = await allocate_run(session, **allocation, turn_on_conflict=by_session)
        await session.commit()  # no transaction (and connection) left open while Temporal is asked
        if not created:
            _check_same_start(body, run)
    return run, created, template, version


def _check_same_start(body: StartProcessBody, run: ProcessRun) -> None:
    """A request id already used answers its first start only when asked for the same start again: the same template
    and record, and the owner and version if the request names them."""
    if (run.template_key, run.record_id) != (body.template, body.record_id):
        raise RequestIdReused(f"request_id '{body.request_id}' started '{run.template_key}' on record "
                              f"{run.record_id}; use a new request_id for another start")
    for name, asked, started in (("owner_id", body.owner_id, run.owner_id),
                                 ("version", body.version, run.template_version)):
        if asked is not None and asked != started:
            raise RequestIdReused(f"request_id '{body.request_id}' started the process with {name} {started}, not "
                                  f"{asked}; use a new request_id for another start",
                                  details=[ErrorDetail(f"body.{name}", f"the start of this request_id has {started}")])


async def _insert_alone(connection: AsyncConnection | Direct, allocation: dict[str, Any]) -> NewRun | None:
    """The run inserted and committed under the next number, on the connection of the start's reads; None when that
    connection is closed (the reads went the session's way) or when a concurrent start took the number or the
    request id, for `allocate_run` to settle, taking turns."""
    if connection.closed:
        return None
    run = NewRun(**allocation)
    try:
        await insert_run(connection, run)
        await connection.commit()
    except IntegrityError:
        await connection.rollback()
        return None
    return run


def _request_id(principal: Principal, request_id: str | None) -> str | None:
    """A caller's request id, kept apart from every other caller's (and from the engine's own starts):
    guessing someone else's finds nothing of theirs."""
    caller = principal.key_id if principal.key_id is not None else principal.caller  # an API key's, as before
    return f"manual:{caller}:{request_id}" if request_id is not None else None
