"""The words of the lines Stagecoach writes in a record's history, in English and Italian: a line is written in the
office's language (LOCALE) when it is written, and stays so. What a line quotes (a phase's or a template's name, a
task's title, an email's subject, a reason staff gave, an error's message) is the office's own, and stays as it is.

Pure and deterministic: workflow code builds its lines from here too (`activities.bookkeeping.HistoryLine` carries
the key and the values, and the English text), and the activity that writes them renders them in LOCALE.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from processes.history_words_it import ITALIAN
from processes.languages import language
from processes.read_back import english_pattern, written_from
from processes.summary_words import ENGLISH_SUMMARIES, FEMININE, ITALIAN_SUMMARIES

ENGLISH = {
    # a process and its phases (workflows/)
    "process_started": "Process '{template}' (version {version}) started",
    "process_aborted": "Process '{template}' aborted: {reason}",
    "process_ended": "Process '{template}' ended",
    "process_ended_why": "Process '{template}' ended: {reason}",
    "phase_started": "Phase '{phase}' started",
    "phase_done": "Phase '{phase}' done",
    "phase_done_answered": "Phase '{phase}' done: the client answered",
    "phase_done_signed": "Phase '{phase}' done: signature signed",
    "phase_done_declined": "Phase '{phase}' done: signature declined",
    "phase_done_expired": "Phase '{phase}' done: signature expired",
    "phase_skipped": "Phase '{phase}' skipped",
    "phase_skipped_why": "Phase '{phase}' skipped: {reason}",
    "phase_task": "Task for phase '{phase}' assigned",
    "phase_task_unanswered": "Task for phase '{phase}' assigned: decide without the client's answers",
    "request_unanswered_cancelled": "Phase '{phase}': client request #{request} was cancelled; the phase waits for "
                                    "its responsible to complete or skip it",
    "request_unanswered_expired": "Phase '{phase}': client request #{request} expired: the client did not answer; "
                                  "the phase waits for its responsible to complete or skip it",
    "follow_up_started": "Follow-up process '{template}' started: {workflow_id}",
    "follow_up_failed": "Follow-up '{template}' not started: {error}",
    "incident": "Incident in phase '{phase}' at {step}: {message}",
    "incident_retry": "Incident at {step} resolved: retry",
    "incident_skip": "Incident at {step} resolved: skip",
    "request_refused": "Request '{request}' sent as a signal refused: {message}",
    "request_refused_why": "Request '{request}' sent as a signal refused: {message} (sent because: {reason})",
    "owner_changed": "Process owner changed from user {previous} to user {owner}",
    "owner_changed_named": "Process owner changed from {previous} to {owner}",
    "decision_goto": "Decision in phase '{phase}': go to '{goto}'",
    "decision_otherwise": "Decision in phase '{phase}': no condition held, go to '{goto}'",
    "decision_ends": "Decision in phase '{phase}': no condition held, the process ends",
    "loop_guard": "Process '{template}' cancelled: loop guard: '{key}' was started {starts} times today on record "
                  "{record_id} (the limit is {limit})",
    "loop_guard_not_sent": "Loop guard notice to {address} not sent: {why}",
    "autostart_skipped": "Autostart of process '{template}' skipped: the record has no owner and no user made the "
                         "change",
    "automations_skipped": "Automations of '{template}' skipped: the record has no owner and no user moved it",
    # what a step did
    "email_line": "{what}: '{subject}' to {to}",
    "email_held": " (kept in the outbox: no SMTP server configured)",
    "email_sent": "Email sent",
    "email_forwarded": "Email forwarded",
    "reminder_sent": "Reminder sent",
    "overdue_notified": "Phase '{phase}' overdue, controller notified",
    "user_notified": "Notified {handle}",
    "owner_notified": "Owner notified",
    "invitation_sent": "Invitation sent",
    "appointment_cancelled": "Appointment cancelled",
    "letter_sent": "Letter sent",
    "report_sent": "Report sent",
    "letter_made": "Letter made: {name} (version {version})",
    "report_made": "Report made: {name} (version {version})",
    "notice_sent": "Notice sent",
    "loop_guard_notice_sent": "Loop guard notice sent",
    "signing_link_emailed": "Signing link emailed",
    "task_reminder_sent": "Reminder of task '{title}' sent",
    "client_reminder_sent": "Reminder {number} of client request #{request} sent",
    "sms_one": "SMS to {to}: 1 segment ({units} {encoding} characters)",
    "sms_many": "SMS to {to}: {count} segments ({units} {encoding} characters)",
    "sms_held": ", kept in the outbox: no SMS gateway configured",
    "webhook_posted": "Webhook posted to '{endpoint}' (answered {status})",
    "fields_written": "Fields written: {fields}",
    "status_left": "Status left at '{status}' (it was already)",
    "assigned": "{name} assigned as {role} ({strategy})",
    "in_phase": "phase '{phase}'",
    "task_created": "Task created: {title}",
    "task_completed": "Task completed: {title}",
    "task_deleted": "Task deleted: {title}",
    # signatures
    "signature_sent": "{name} sent for signature to {signer} ({provider})",
    "signature_signed": "Signature request #{signature} signed ({signer})",
    "signature_declined": "Signature request #{signature} declined by the signer ({signer})",
    "signature_expired": "Signature request #{signature} expired unsigned ({signer})",
    "signature_cancelled": "Signature request #{signature} cancelled ({signer}): {reason}",
    "signed_version": "Signed version {version} of {name}",
    # statuses and types
    "status_changed": "Status changed from '{previous}' to '{status}'",
    "substate_opened": "Substate '{substate}' opened",
    "substate_closed": "Substate '{substate}' closed",
    "by_actor": " by {actor}",
    "actor_key": "API key '{name}'",
    "status_remapped": "Status changed from '{previous}' to '{status}': status '{previous}' left pipeline "
                       "'{pipeline}' in version {version}",
    "substate_removed": "Substate '{substate}' closed: it left status '{status}' of pipeline '{pipeline}' in version "
                        "{version}",
    "record_left_stage": "record {record} left '{label}'",
    "type_changed": "Type changed from '{previous}' to '{type}'",
    "type_status": ", status from '{previous}' to '{status}'",
    # client requests
    "client_request_sent": "Client request #{request} '{title}' sent to {to}",
    "request_moves_record": " (the answers move the record on)",
    "request_phase_waits": " (the phase waits for the answers)",
    "client_request_sent_link": "Client request sent: {title} (to {to})",
    "client_request_sent_again": "Client request sent again: {title} (to {to})",
    "client_request_linked": "Client request linked: {title}",
    "request_linked_moves": " (its answers move the record on from '{status}')",
    "client_request_answered": "Client request answered: {title}",
    "client_request_cancelled": "Client request cancelled: {title}",
    "client_request_cancelled_why": "Client request cancelled: {title} ({reason})",
    "client_request_expired": "Client request #{request} '{title}' expired: the client did not answer",
    "record_stays": " (the record stays where it is)",
    "phase_goes_on": " (the phase waiting for it goes on without them)",
    "request_cancelled_by_move": "Client request #{request} '{title}' cancelled by {actor}: the record moved to "
                                 "'{status}'",
    "request_kept_still": "Client request #{request} '{title}' kept open by {actor}; its answers will not move the "
                          "record",
    "request_kept_moving": "Client request #{request} '{title}' kept open by {actor}; its answers will move the "
                           "record on from '{status}'",
    "answered_not_moved": "Client request #{request} answered; record not moved: {why}",
    "answered_left": "Client request #{request} answered; record not moved: it is in '{status}' now, no longer in "
                     "'{waiting}'",
    "answered_last": "Client request #{request} answered; record not moved: '{waiting}' is the last status of type "
                     "'{type}'",
    "client_answered": "the client answered '{title}'",
    # documents and cases
    "document_added": "Document added: {name}",
    "document_version_added": "New version {version} of {name}",
    "document_deleted": "Document deleted: {name}",
    "document_from_request": "Document added: {name} (client request: {title})",
    "case_created": "Case created: {title}",
    "case_imported": "Case created: {title} (imported)",
    "case_renamed": "Renamed from '{previous}' to '{title}'",
    # a record's own values changed by staff or a client of the API (crm/record_edits.py)
    "record_edited": "Changed: {changes}",
    "value_changed": "{label} {before} → {after}",
    "changes_more": "; and {count} more",
    "label_title": "title", "label_email": "email", "label_phone": "phone", "label_channel": "channel",
    "label_owner_id": "owner", "label_contact_id": "contact", "label_restricted": "restricted",
    "label_access_user_ids": "who may see it",
    "label_field": "field '{name}'",
    "value_yes": "yes", "value_no": "no",
    "case_closed": "Case closed",
    "case_closed_why": "Case closed: {reason}",
    "processes_aborted": " ({count} process(es) aborted)",
    "processes_kept": " ({count} process(es) kept running)",
    "case_reopened": "Case reopened",
    "participant_added": "Participant added: {name}",
    "participant_removed": "Participant removed: {name}",
    "tags_set": "Tags: {tags}",
    "tags_added": "Tags added {tags}",
    "tags_removed": "Tags removed {tags}",
    "tags_changed": "Tags added {added}; removed {removed}",
    "tag_renamed": "Tag {previous} renamed {tag}",
    "tag_merged": "Tag {previous} merged into {tag}",
    "tag_deleted": "Tag {tag} deleted",
    # a phase task's title and note when the phase's client request ended unanswered (not history lines: the task's)
    "task_title_unanswered": "{phase} ({template}): client request {requests} unanswered",
    "task_note_unanswered": "Client requests {requests} ended: decide without the client's answers, then complete or "
                            "skip the phase.",
    "task_note_unanswered_cancelled": "Client request {requests} was cancelled: decide without the client's answers, "
                                      "then complete or skip the phase.",
    "task_note_unanswered_expired": "Client request {requests} expired: the client did not answer: decide without the "
                                    "client's answers, then complete or skip the phase.",
    # the reasons the engine gives, inside the lines above (`reason`), a process's end and a phase's skip: kept in
    # English in the process's state and its run (`end_reason`, as the API gives it back), said in the office's
    # language wherever a line or a page shows them (`reason_in`)
    "reason_ended_by_phase": "ended by phase '{phase}'",
    "reason_cancelled_in_temporal": "cancelled through Temporal",
    "reason_process_aborted": "process aborted",
    "reason_process_aborted_why": "process aborted: {reason}",
    "reason_process_cancelled": "process cancelled",
    "reason_process_cancelled_why": "process cancelled: {reason}",
    "reason_process_ended_why": "process ended: {reason}",
    "reason_loop_guard": "process cancelled by the loop guard",
    "reason_loop_guard_why": "loop guard: '{key}' was started {starts} times today on record {record_id} (the limit is "
                             "{limit})",
    "reason_phase_skipped": "phase '{phase}' skipped",
    "reason_phase_skipped_why": "phase '{phase}' skipped: {reason}",
    # the steps an incident names (`step`) but an action's, whose name is the template's own (`actions[1].send_email`):
    # kept in English in the process's state (the API gives them back), said in the office's language wherever a line
    # or a page shows them (`step_in`)
    "step_task": "task",
    "step_responsible": "responsible",
    "step_decision": "decision",
    "step_deadline_notice": "deadline notice",
    "step_bookkeeping": "bookkeeping: {what}",
    "step_history": "history",
    "step_loop_guard": "loop guard",
}


ENGLISH |= ENGLISH_SUMMARIES
ITALIAN |= ITALIAN_SUMMARIES
LANGUAGES = {"en": ENGLISH, "it": ITALIAN}


def history_text(locale: str, key: str, /, **values: Any) -> str:
    """The line `key` in the language of `locale` (English for any locale but Italian's), `values` filled in: a
    `reason` the engine gave in its own words in that language too (`reason_in`)."""
    table = LANGUAGES[language(locale)]
    if isinstance(values.get("actor"), str):
        values["actor"] = actor_in(locale, values["actor"])
    if table is not ENGLISH:
        for name, said_in in (("reason", reason_in), ("step", step_in)):
            if isinstance(values.get(name), str):
                values[name] = said_in(locale, values[name])
        if isinstance(outcome := values.get("outcome"), str):  # its word agrees with what the line says it of
            values["outcome"] = table.get(f"outcome_{'f_' if key in FEMININE else ''}{outcome}", outcome)
    return table[key].format(**values)


# a value read back that is one word (a status): `email {outcome}` does not read `email forwarded: sent`
_GROUPS = {"outcome": r"\w+"}


def _patterns(prefix: str) -> list[tuple[str, re.Pattern[str]]]:
    return [(key, english_pattern(ENGLISH[key], _GROUPS)) for key in ENGLISH if key.startswith(prefix)]


_REASONS, _STEPS, _SUMMARIES = _patterns("reason_"), _patterns("step_"), _patterns("summary_")


def _read_back(locale: str, text: str, patterns: list[tuple[str, re.Pattern[str]]],
               user: Callable[[str], str] | None = None) -> str:
    """`text` in the language of `locale` when it is one of `patterns`' English lines (what is inside it too: a
    `reason` by `history_text`, a step's `what` read back the same way; a `user`'s id as `user` says it); any other
    text as it is."""
    if language(locale) == "en" and user is None:
        return text
    if (found := written_from(text, patterns)) is None:
        return text
    key, values = found
    return history_text(locale, key, **{name: _read_back(locale, value, patterns) if name == "what" else
                                        user(value) if name == "user" and user is not None else value
                                        for name, value in values.items()})


def summary_in(locale: str, summary: str, user: Callable[[str], str] | None = None) -> str:
    """An action's summary (`summary_...` in English: what an email, a task, a webhook... did) in the language of
    `locale`, the user it names as `user` says them (by name, where the console knows them); any other as it is."""
    return _read_back(locale, summary, _SUMMARIES, user)


_CALLER = re.compile(r"^(user|key):(\d{1,19}):(.+)$", re.DOTALL)


def caller_of(actor: str) -> tuple[str, int, str] | None:
    """A caller's actor as the API writes it (`api.auth.Principal.actor`: `user:3:maria`, `key:12:crm-sync`) read
    back: `user` or `key`, its id and its name; None for any other actor (`process new-lead`, `loop guard`)."""
    if (found := _CALLER.match(actor)) is None:
        return None
    kind, number, name = found.groups()
    return kind, int(number), name


def actor_in(locale: str, actor: str) -> str:
    """Who did something, as a line says it: a user by their handle, an API key by its name (the actor is kept whole,
    `user:3:maria` or `key:12:crm-sync`, in the line's `actor`); Stagecoach's own (`process new-lead`) as it is."""
    if (caller := caller_of(actor)) is None:
        return actor
    kind, _number, name = caller
    return name if kind == "user" else LANGUAGES[language(locale)]["actor_key"].format(name=name)


def reason_in(locale: str, reason: str) -> str:
    """`reason` in the language of `locale` when the engine wrote it (`reason_...` in English: a process ended by its
    phase, cancelled through Temporal, a phase skipped with its process...), the reason inside it too; a reason staff
    or a template gave is theirs, and stays as it is."""
    return _read_back(locale, reason, _REASONS)


def step_in(locale: str, step: str) -> str:
    """The step an incident names in the language of `locale` when it is the engine's (`step_...` in English: a
    phase's task, its responsible, the bookkeeping of its history...); an action's (`actions[1].send_email`) is the
    template's path to it, and stays as it is."""
    return _read_back(locale, step, _STEPS)


def english(key: str, /, **values: Any) -> str:
    """The line in English: what a workflow's line says until it is written (`HistoryLine.text`)."""
    return ENGLISH[key].format(**values)


@dataclass(frozen=True)
class Said:
    """A line of the table with its values, not yet in a language: what workflow code builds."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def english(self) -> str:
        return english(self.key, **self.values)

    def text(self, locale: str) -> str:
        return history_text(locale, self.key, **self.values)


def said(key: str, /, **values: Any) -> Said:
    return Said(key, values)
