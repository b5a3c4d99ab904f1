"""The `send_sms` action: render the text, find and normalise the number (E.164), send it at most once."""

from __future__ import annotations

import hashlib
from functools import partial

import phonenumbers
from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.deliveries import Answered, Planned, deliver_once
from activities.deps import Deps
from activities.errors import final_message
from activities.sms import sms_provider
from activities.lookups import load_record, load_user
from activities.step import ActionResult, OnceStep, StepInput, render, render_variables, step_activity
from crm.deliveries import Delivery, DeliveryStatus
from crm.models import HistoryKind, Record
from crm.types import utcnow
from processes.sent_values import dialable
from processes.sms_text import MAX_SEGMENTS, gsm_text, segments
from processes.action_kinds import SendSms
from processes.history_words import english, history_text


def _line(locale: str, delivery: Delivery) -> str:
    """The SMS's line in the record's history, in the language of `locale`."""
    size = segments(delivery.body)
    said = partial(history_text, locale)
    return said("sms_one" if size.count == 1 else "sms_many", to=delivery.target, count=size.count,
                units=size.units, encoding=size.encoding) + (said("sms_held") if delivery.status is
                                                              DeliveryStatus.held else "")

class SendSmsInput(BaseModel):
    step: StepInput
    action: SendSms
    where: str = "send_sms"


def country_of(*records: Record | None) -> str | None:
    """The first `country` free field (ISO 3166 alpha-2) among the records."""
    for record in records:
        country = (record.fields or {}).get("country") if record is not None else None
        if isinstance(country, str) and len(country.strip()) == 2:
            return country.strip().upper()
    return None


async def resolve_number(session: AsyncSession, step: StepInput, to: str, default_region: str) -> str:
    """The recipient's number in E.164: a role's phone (or the fixed number), read with the record's country
    (its `country` field, else its contact's, else SMS_DEFAULT_REGION) for numbers written without +."""
    record = await load_record(session, step.record_id)
    contact = await session.get(Record, record.contact_id) if record.contact_id else None
    if to in ("responsible", "process_owner", "record_owner"):
        user_id = {"responsible": step.responsible_id, "process_owner": step.owner_id,
                   "record_owner": record.owner_id}[to]
        if user_id is None:
            raise final_message("RecipientMissing", f"record {record.id} has no {to.replace('_', ' ')} to text")
        number, whose = (await load_user(session, user_id, to.replace("_", " "))).phone, f"the {to.replace('_', ' ')}"
    elif to == "record_contact":
        number = record.phone or (contact.phone if contact is not None else None)
        whose = f"record {record.id}"
    else:
        number, whose = to, "the template"
    if not number:
        raise final_message("RecipientMissing", f"{whose} has no phone number to text")
    region = country_of(record, contact) or default_region
    try:
        parsed = phonenumbers.parse(dialable(number), region)  # `333 123 4567 int 5`, a thin space: read
    except phonenumbers.NumberParseException as exc:
        raise final_message("SmsNumberInvalid", f"the phone number of {whose} ('{number}') cannot be read: "
                                                f"{exc}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise final_message("SmsNumberInvalid", f"the phone number of {whose} ('{number}') is not a valid number "
                                                f"(read as {region} where it has no +country code)")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class SendSmsActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @step_activity("send_sms")
    async def send_sms(self, input: SendSmsInput) -> ActionResult:
        action = input.action
        provider = sms_provider(self.deps.settings)
        once = await OnceStep.prepare(self.deps, input.step)

        async def compose(session: AsyncSession) -> Planned:
            variables = await render_variables(session, once.step, utcnow(), [action.text])
            number = await resolve_number(session, once.step, action.to, self.deps.settings.sms_default_region)
            text = gsm_text(await render(self.deps, once.step, action.text, variables, f"{input.where}.text",
                                         action.locale))
            if (size := segments(text)).count > MAX_SEGMENTS:
                raise final_message("SmsTooLong", f"{input.where}.text: the text rendered is {size}; the limit is "
                                                  f"{MAX_SEGMENTS} segments")
            return Planned(target=number, body=text,
                           message_id=f"sms_{hashlib.sha256(once.step.step_key.encode()).hexdigest()[:24]}")

        async def send(row: Delivery) -> Answered:
            return await provider.send(to=row.target, text=row.body, reference=row.message_id)

        row = await deliver_once(self.deps, once.step, kind="send_sms", compose=compose, send=send,
                                 before=once.before, after=once.after(),
                                 history_kind=HistoryKind.sms_sent,
                                 describe=lambda d: _line(self.deps.settings.locale, d))
        return ActionResult(summary=english("summary_sms", outcome=row.status.value, delivery=row.id, to=action.to),
                            data={"delivery_id": row.id}, responsible_id=once.step.responsible_id)
