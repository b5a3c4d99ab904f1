"""One installation time zone (TIMEZONE): the loop guard's day, the dates emails show, an email's Date header."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlmodel import select

from activities.deps import Deps
from activities.loop_guard import LoopGuardActivities, LoopGuardInput
from activities.mailer import Mailer
from activities.notices import NoticeActivities, OverdueNoticeInput
from activities.step import StepInput
from crm.models import OutboxMessage
from crm.process_runs import ProcessOrigin, ProcessRun
from crm.types import utcnow
from settings import Settings
from tests.e2e.conftest import MailCatcher
from tests.factories import Factory

FAR_EAST = "Pacific/Kiritimati"  # UTC+14: its days never start when UTC's do


def test_the_time_zone_setting_and_its_former_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """TIMEZONE sets the zone, LOOP_GUARD_TIMEZONE still does, and an unknown zone stops the start with its name"""
    assert Settings().timezone == "UTC"
    monkeypatch.setenv("LOOP_GUARD_TIMEZONE", "Asia/Tokyo")
    assert Settings().timezone == "Asia/Tokyo"
    monkeypatch.setenv("TIMEZONE", "Europe/Rome")
    assert Settings().timezone == "Europe/Rome" and Settings().zone == ZoneInfo("Europe/Rome")
    monkeypatch.setenv("TIMEZONE", "Europe/Rom")
    with pytest.raises(ValidationError, match="unknown time zone 'Europe/Rom'"):
        Settings()


@pytest.mark.parametrize("zone", ["UTC", "Europe/Rome", FAR_EAST])
async def test_an_email_carries_the_installation_offset(smtp: tuple[MailCatcher, int], zone: str) -> None:
    """An email's Date header has the offset of TIMEZONE (never -0000, 'unknown zone')"""
    catcher, port = smtp
    to = f"date-{uuid.uuid4().hex[:6]}@example.org"
    settings = Settings(smtp_host="127.0.0.1", smtp_port=port, timezone=zone)
    before = datetime.now(ZoneInfo(zone))
    await Mailer(settings).deliver(to=to, subject="Date", body="Hello", message_id=f"<{uuid.uuid4().hex}@t>")
    [message] = catcher.to(to)
    header = str(message["Date"])
    sent = parsedate_to_datetime(header)
    assert not header.endswith("-0000"), header
    assert sent.utcoffset() == before.utcoffset(), header
    assert abs(sent - before) < timedelta(minutes=1)


async def test_the_loop_guard_counts_the_day_of_the_installation(sessions: Any, factory: Factory) -> None:
    """The loop guard's "today" is TIMEZONE's day: starts just before its midnight are yesterday's"""
    owner = await factory.user()
    record = await factory.record(owner=owner)
    key = f"tz-{uuid.uuid4().hex[:8]}"
    zone = ZoneInfo(FAR_EAST)
    now = utcnow()
    midnight = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
    async with sessions() as session:
        for n, created in enumerate([midnight - timedelta(seconds=1)] * 10 + [midnight + timedelta(seconds=1)] * 10
                                    + [now]):
            session.add(ProcessRun(workflow_id=f"process-{key}-{record.id}-{n + 1}", template_key=key,
                                   template_version=1, record_id=record.id, sequence=n + 1, owner_id=owner.id,
                                   origin=ProcessOrigin.follow_up, created_at=created))
        await session.commit()
    settings = Settings(timezone=FAR_EAST, loop_guard_limit=100)
    guard = LoopGuardActivities(Deps(settings=settings, sessions=sessions, mailer=Mailer(settings)))
    subject = LoopGuardInput(workflow_id=f"process-{key}-{record.id}-21", template_key=key, template_name="Day",
                             record_id=record.id, owner_id=owner.id, controller_email="controller@agency.example")
    result = await guard.apply_loop_guard(subject)
    assert not result.cancelled and result.starts_today == 11  # the ten after its midnight and this one; not the ten just before it


async def test_an_overdue_notice_shows_the_deadline_in_the_installation_zone(sessions: Any, factory: Factory) -> None:
    """The controller's overdue email gives the deadline in TIMEZONE, with the zone's name"""
    owner = await factory.user()
    record = await factory.record(owner=owner)
    workflow_id = f"process-tz-{uuid.uuid4().hex[:8]}-{record.id}-1"
    deadline = datetime(2026, 7, 1, 7, 30, tzinfo=ZoneInfo("UTC"))
    step = StepInput(step_key=f"{workflow_id}/call/overdue/1", workflow_id=workflow_id, record_id=record.id,
                     owner_id=owner.id, template_key="tz", template_name="Time zone", template_version=1,
                     controller_email="controller@agency.example", process_started_at=deadline, phase_key="call",
                     phase_name="Call", phase_deadline=deadline, responsible_id=owner.id)
    settings = Settings(timezone="Europe/Rome")  # no SMTP_HOST: the email is kept in the outbox
    await NoticeActivities(Deps(settings=settings, sessions=sessions, mailer=Mailer(settings))).notify_overdue(
        OverdueNoticeInput(step=step))
    async with sessions() as session:
        [message] = (await session.exec(select(OutboxMessage).where(OutboxMessage.workflow_id == workflow_id))).all()
    assert "passed its deadline, Wednesday, July 1, 2026, 9:30\u202fAM CEST, without being completed" in message.body, \
        message.body
