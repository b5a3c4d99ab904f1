"""What a repeat of each action kind means, declared per kind.

A step can run twice: a worker that dies after the effect, before it reported it, gets its step
retried elsewhere. Every action kind says what such a repeat does:

- `exactly_once`: a write to Stagecoach's own database, in one transaction with its step key; a
  repeat finds it done.
- `repeatable`: the effect leaves Stagecoach, but the receiver can tell a repeat by a stable id (an
  email's Message-ID, a webhook's `webhook-id`, both from the step key), so it is sent again.
- `at_most_once`: the effect leaves Stagecoach and a repeat would be a second effect (an SMS, a paid
  letter). An attempt whose outcome is unknown (the worker died during it, the gateway did not answer)
  is never sent again by itself: the process holds an incident asking staff whether it was sent.
- `timer`: no effect of its own when the step runs (a reminder, a follow-up, the end of the process).
"""

from __future__ import annotations

import enum


class RetrySafety(str, enum.Enum):
    exactly_once = "exactly_once"
    repeatable = "repeatable"
    at_most_once = "at_most_once"
    timer = "timer"


RETRY_SAFETY: dict[str, RetrySafety] = {
    "send_email": RetrySafety.repeatable,
    "webhook": RetrySafety.repeatable,
    "send_sms": RetrySafety.at_most_once,
    "appointment": RetrySafety.repeatable,
    "letter": RetrySafety.repeatable,
    "report": RetrySafety.repeatable,
    "create_task": RetrySafety.exactly_once,
    "write_values": RetrySafety.exactly_once,
    "set_status": RetrySafety.exactly_once,
    "add_history": RetrySafety.exactly_once,
    "reminder": RetrySafety.timer,
    "end_process": RetrySafety.timer,
    "start_follow_up": RetrySafety.timer,
    "open_substate": RetrySafety.exactly_once,
    "close_substate": RetrySafety.exactly_once,
    "start_process": RetrySafety.exactly_once,
    "notify": RetrySafety.repeatable,
    "assign": RetrySafety.exactly_once,
    "send_client_request": RetrySafety.repeatable,
    "forward_email": RetrySafety.repeatable,
    "notify_owner": RetrySafety.repeatable,
    "request_signature": RetrySafety.at_most_once,
}
