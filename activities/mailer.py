"""SMTP delivery with aiosmtplib; classifies failures as permanent (5xx) or transient."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib

import metrics
from settings import Settings


class PermanentMailError(Exception):
    """The server refused the message for good (5xx): retrying cannot help."""


class TransientMailError(Exception):
    """Connection lost, timeout, 4xx: the same message may be sent again later."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf", "text/calendar; method=REQUEST"
    data: bytes

    def stored(self) -> dict[str, Any]:
        """As the outbox keeps it (JSON)."""
        return {"filename": self.filename, "content_type": self.content_type, "size": len(self.data),
                "data": base64.b64encode(self.data).decode("ascii")}

    @classmethod
    def from_stored(cls, value: dict[str, Any]) -> Attachment:
        return cls(value["filename"], value["content_type"], base64.b64decode(value["data"]))


def sender_parts(sender: str) -> tuple[str, str]:
    """`SMTP_FROM`'s display name (or "") and address: `Agenzia Rossi <agenzia@rossi.example>` or a bare address."""
    return parseaddr(sender)


def message_id_for(step_key: str, sender: str) -> str:
    """A Message-ID derived from the step key, the same on every retry, so receivers can de-duplicate."""
    domain = sender_parts(sender)[1].rsplit("@", 1)[-1] or "stagecoach"
    return f"<{hashlib.sha256(step_key.encode()).hexdigest()[:40]}@{domain}>"


def encoded_header(name: str, value: str) -> str:
    """`value` as RFC 2047 encoded words, folded between words: every space of it is inside a word.

    The folder of Python 3.11's email package (gh-144156) may put a space of the text between two encoded
    words, where readers drop it ("Via Università 5, Forlì" arrived as "Via Università 5,Forlì").
    """
    if len(value.splitlines()) > 1:  # as EmailMessage refuses them: a line break would start another header
        raise ValueError(f"a {name} header may not contain line breaks")
    return Header(value, "utf-8", header_name=name).encode(linesep="\n")


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @property
    def configured(self) -> bool:
        return bool(self._settings.smtp_host)

    @property
    def sender(self) -> str:
        return self._settings.smtp_from

    async def deliver(self, *, to: str, subject: str, body: str, message_id: str,
                      attachments: tuple[Attachment, ...] = ()) -> None:
        s = self._settings
        message = EmailMessage()
        message["From"] = s.smtp_from
        message["To"] = to
        if subject.isascii() and "=?" not in subject:
            message["Subject"] = subject
        else:  # stored as encoded, so that the generator does not fold it again
            message.set_raw("Subject", encoded_header("Subject", subject))
        message["Message-ID"] = message_id
        message["Date"] = format_datetime(datetime.now(s.zone))  # the real offset; "-0000" means "unknown"
        message.set_content(body)
        for attachment in attachments:
            maintype, _, rest = attachment.content_type.partition("/")
            subtype, *parameters = [part.strip() for part in rest.split(";")]
            params = dict(p.split("=", 1) for p in parameters if "=" in p)
            message.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename,
                                   params=params)
        from tracing import tracer  # not at import: workflow sandboxes import this module

        with tracer("stagecoach.mailer").start_as_current_span("smtp send", attributes={
                "server.address": s.smtp_host or "", "server.port": s.smtp_port}):
            await self._send(message)
        metrics.email_sent()

    async def _send(self, message: EmailMessage) -> None:
        s = self._settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                start_tls=s.smtp_starttls,
                use_tls=s.smtp_use_tls,
                timeout=s.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            error = f"recipient refused ({', '.join(str(c) for c in codes)})"
            raise _failed(PermanentMailError if all(c >= 500 for c in codes) else TransientMailError, error) from None
        except aiosmtplib.SMTPResponseException as exc:
            error = f"SMTP server answered {exc.code}: {exc.message}"
            raise _failed(PermanentMailError if exc.code >= 500 else TransientMailError, error) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise _failed(TransientMailError, f"{type(exc).__name__}: {exc}") from None


def _failed(kind: type[PermanentMailError | TransientMailError], error: str) -> Exception:
    """The error to raise, counted (metrics.py) as permanent or transient."""
    metrics.email_failed("permanent" if kind is PermanentMailError else "transient")
    return kind(error)
