"""Every activity the worker registers, built around one shared `Deps`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.appointments import AppointmentActivities
from activities.autostart import AutostartActivities
from activities.bookkeeping import BookkeepingActivities
from activities.client_requests import ClientRequestActivities
from activities.decisions import DecisionActivities
from activities.deps import Deps
from activities.follow_ups import FollowUpActivities
from activities.forward_email import ForwardEmailActivities
from activities.history import HistoryActivities
from activities.letters import LetterActivities
from activities.loop_guard import LoopGuardActivities
from activities.notices import NoticeActivities
from activities.notify_owner import NotifyOwnerActivities
from activities.process_runs import ProcessRunActivities
from activities.record_values import RecordValuesActivities
from activities.responsible import ResponsibleActivities
from activities.send_client_request import SendClientRequestActivities
from activities.send_email import SendEmailActivities
from activities.send_sms import SendSmsActivities
from activities.signing.cancel import SignatureCancelActivities
from activities.signing.request import SignatureActivities
from activities.stage_actions import StageActionActivities
from activities.staff_notices import StaffNoticeActivities
from activities.task_reminders import TaskReminderActivities
from activities.tasks import TaskActivities
from activities.webhooks import WebhookActivities
from activities.temporal_history import TemporalHistoryActivities

ACTIVITY_CLASSES = (
    AppointmentActivities,
    AutostartActivities,
    BookkeepingActivities,
    ClientRequestActivities,
    DecisionActivities,
    FollowUpActivities,
    ForwardEmailActivities,
    HistoryActivities,
    LetterActivities,
    LoopGuardActivities,
    NoticeActivities,
    NotifyOwnerActivities,
    ProcessRunActivities,
    RecordValuesActivities,
    ResponsibleActivities,
    SendClientRequestActivities,
    SendEmailActivities,
    SendSmsActivities,
    SignatureActivities,
    SignatureCancelActivities,
    StageActionActivities,
    StaffNoticeActivities,
    TaskActivities,
    TaskReminderActivities,
    TemporalHistoryActivities,
    WebhookActivities,
)


def all_activities(deps: Deps) -> list[Callable[..., Any]]:
    activities: list[Callable[..., Any]] = []
    for cls in ACTIVITY_CLASSES:
        instance = cls(deps)  # type: ignore[arg-type]
        for name in dir(instance):
            member = getattr(instance, name)
            if callable(member) and hasattr(member, "__temporal_activity_definition"):
                activities.append(member)
    return activities
