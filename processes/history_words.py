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

from processes.languages import language
from processes.read_back import english_pattern
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

ITALIAN = {
    "process_started": "Processo '{template}' (versione {version}) avviato",
    "process_aborted": "Processo '{template}' interrotto: {reason}",
    "process_ended": "Processo '{template}' terminato",
    "process_ended_why": "Processo '{template}' terminato: {reason}",
    "phase_started": "Fase '{phase}' avviata",
    "phase_done": "Fase '{phase}' completata",
    "phase_done_answered": "Fase '{phase}' completata: il cliente ha risposto",
    "phase_done_signed": "Fase '{phase}' completata: documento firmato",
    "phase_done_declined": "Fase '{phase}' completata: firma rifiutata",
    "phase_done_expired": "Fase '{phase}' completata: firma scaduta",
    "phase_skipped": "Fase '{phase}' saltata",
    "phase_skipped_why": "Fase '{phase}' saltata: {reason}",
    "phase_task": "Attività per la fase '{phase}' assegnata",
    "phase_task_unanswered": "Attività per la fase '{phase}' assegnata: decidere senza le risposte del cliente",
    "request_unanswered_cancelled": "Fase '{phase}': la richiesta al cliente n. {request} è stata annullata; la fase "
                                    "attende che il responsabile la completi o la salti",
    "request_unanswered_expired": "Fase '{phase}': la richiesta al cliente n. {request} è scaduta: il cliente non ha "
                                  "risposto; la fase attende che il responsabile la completi o la salti",
    "follow_up_started": "Processo successivo '{template}' avviato: {workflow_id}",
    "follow_up_failed": "Processo successivo '{template}' non avviato: {error}",
    "incident": "Incidente nella fase '{phase}' al passo {step}: {message}",
    "incident_retry": "Incidente al passo {step} risolto: nuovo tentativo",
    "incident_skip": "Incidente al passo {step} risolto: passo saltato",
    "request_refused": "Richiesta '{request}' inviata come segnale rifiutata: {message}",
    "request_refused_why": "Richiesta '{request}' inviata come segnale rifiutata: {message} (inviata perché: "
                           "{reason})",
    "owner_changed": "Titolare del processo cambiato dall'utente {previous} all'utente {owner}",
    "owner_changed_named": "Titolare del processo cambiato da {previous} a {owner}",
    "decision_goto": "Decisione nella fase '{phase}': si va a '{goto}'",
    "decision_otherwise": "Decisione nella fase '{phase}': nessuna condizione vera, si va a '{goto}'",
    "decision_ends": "Decisione nella fase '{phase}': nessuna condizione vera, il processo termina",
    "loop_guard": "Processo '{template}' annullato dal controllo dei cicli: '{key}' è stato avviato {starts} volte "
                  "oggi sulla scheda {record_id} (il limite è {limit})",
    "loop_guard_not_sent": "Avviso del controllo dei cicli a {address} non inviato: {why}",
    "autostart_skipped": "Avvio automatico del processo '{template}' saltato: la scheda non ha un titolare e nessun "
                         "utente ha fatto la modifica",
    "automations_skipped": "Automazioni di '{template}' saltate: la scheda non ha un titolare e nessun utente l'ha "
                           "spostata",
    "email_line": "{what}: '{subject}' a {to}",
    "email_held": " (tenuta nella posta in uscita: nessun server SMTP impostato)",
    "email_sent": "Email inviata",
    "email_forwarded": "Email inoltrata",
    "reminder_sent": "Promemoria inviato",
    "overdue_notified": "Fase '{phase}' in ritardo, controllore avvisato",
    "user_notified": "Avvisato {handle}",
    "owner_notified": "Titolare avvisato",
    "invitation_sent": "Invito inviato",
    "appointment_cancelled": "Appuntamento annullato",
    "letter_sent": "Lettera inviata",
    "report_sent": "Report inviato",
    "letter_made": "Lettera creata: {name} (versione {version})",
    "report_made": "Report creato: {name} (versione {version})",
    "notice_sent": "Avviso inviato",
    "loop_guard_notice_sent": "Avviso del controllo dei cicli inviato",
    "signing_link_emailed": "Link per la firma inviato per email",
    "task_reminder_sent": "Promemoria dell'attività '{title}' inviato",
    "client_reminder_sent": "Sollecito {number} della richiesta al cliente n. {request} inviato",
    "sms_one": "SMS a {to}: 1 segmento ({units} caratteri {encoding})",
    "sms_many": "SMS a {to}: {count} segmenti ({units} caratteri {encoding})",
    "sms_held": ", tenuto nella posta in uscita: nessun gateway SMS impostato",
    "webhook_posted": "Webhook inviato a '{endpoint}' (risposta {status})",
    "fields_written": "Campi scritti: {fields}",
    "status_left": "Stato lasciato a '{status}' (lo era già)",
    "assigned": "{name} assegnato come {role} ({strategy})",
    "in_phase": "fase '{phase}'",
    "task_created": "Attività creata: {title}",
    "task_completed": "Attività completata: {title}",
    "task_deleted": "Attività eliminata: {title}",
    "signature_sent": "{name} inviato per la firma a {signer} ({provider})",
    "signature_signed": "Richiesta di firma n. {signature} firmata ({signer})",
    "signature_declined": "Richiesta di firma n. {signature} rifiutata dal firmatario ({signer})",
    "signature_expired": "Richiesta di firma n. {signature} scaduta senza firma ({signer})",
    "signature_cancelled": "Richiesta di firma n. {signature} annullata ({signer}): {reason}",
    "signed_version": "Versione firmata {version} di {name}",
    "status_changed": "Stato cambiato da '{previous}' a '{status}'",
    "substate_opened": "Sottostato '{substate}' aperto",
    "substate_closed": "Sottostato '{substate}' chiuso",
    "by_actor": " da {actor}",
    "actor_key": "chiave API '{name}'",
    "status_remapped": "Stato cambiato da '{previous}' a '{status}': lo stato '{previous}' non è più nella pipeline "
                       "'{pipeline}' dalla versione {version}",
    "substate_removed": "Sottostato '{substate}' chiuso: non è più nello stato '{status}' della pipeline '{pipeline}' "
                        "dalla versione {version}",
    "record_left_stage": "il record {record} ha lasciato '{label}'",
    "type_changed": "Tipo cambiato da '{previous}' a '{type}'",
    "type_status": ", stato da '{previous}' a '{status}'",
    "client_request_sent": "Richiesta al cliente n. {request} '{title}' inviata a {to}",
    "request_moves_record": " (le risposte spostano avanti la scheda)",
    "request_phase_waits": " (la fase attende le risposte)",
    "client_request_sent_link": "Richiesta al cliente inviata: {title} (a {to})",
    "client_request_sent_again": "Richiesta al cliente inviata di nuovo: {title} (a {to})",
    "client_request_linked": "Richiesta al cliente collegata: {title}",
    "request_linked_moves": " (le sue risposte spostano avanti la scheda da '{status}')",
    "client_request_answered": "Richiesta al cliente compilata: {title}",
    "client_request_cancelled": "Richiesta al cliente annullata: {title}",
    "client_request_expired": "Richiesta al cliente n. {request} '{title}' scaduta: il cliente non ha risposto",
    "record_stays": " (la scheda resta dov'è)",
    "phase_goes_on": " (la fase che la attendeva prosegue senza le risposte)",
    "request_cancelled_by_move": "Richiesta al cliente n. {request} '{title}' annullata da {actor}: la scheda è stata "
                                 "spostata in '{status}'",
    "request_kept_still": "Richiesta al cliente n. {request} '{title}' tenuta aperta da {actor}; le sue risposte non "
                          "sposteranno la scheda",
    "request_kept_moving": "Richiesta al cliente n. {request} '{title}' tenuta aperta da {actor}; le sue risposte "
                           "sposteranno avanti la scheda da '{status}'",
    "answered_not_moved": "Richiesta al cliente n. {request} compilata; scheda non spostata: {why}",
    "answered_left": "Richiesta al cliente n. {request} compilata; scheda non spostata: ora è in '{status}', non più "
                     "in '{waiting}'",
    "answered_last": "Richiesta al cliente n. {request} compilata; scheda non spostata: '{waiting}' è l'ultimo stato "
                     "del tipo '{type}'",
    "client_answered": "il cliente ha compilato '{title}'",
    "document_added": "Documento aggiunto: {name}",
    "document_version_added": "Nuova versione {version} di {name}",
    "document_deleted": "Documento eliminato: {name}",
    "document_from_request": "Documento aggiunto: {name} (richiesta al cliente: {title})",
    "case_created": "Pratica creata: {title}",
    "case_imported": "Pratica creata: {title} (importata)",
    "case_renamed": "Rinominata da '{previous}' a '{title}'",
    "case_closed": "Pratica chiusa",
    "case_closed_why": "Pratica chiusa: {reason}",
    "processes_aborted": " ({count} processi interrotti)",
    "processes_kept": " ({count} processi lasciati in corso)",
    "case_reopened": "Pratica riaperta",
    "participant_added": "Partecipante aggiunto: {name}",
    "participant_removed": "Partecipante rimosso: {name}",
    "tags_set": "Etichette: {tags}",
    "tags_added": "Etichette aggiunte {tags}",
    "tags_removed": "Etichette rimosse {tags}",
    "tags_changed": "Etichette aggiunte {added}; rimosse {removed}",
    "tag_renamed": "Etichetta {previous} rinominata {tag}",
    "tag_merged": "Etichetta {previous} unita a {tag}",
    "tag_deleted": "Etichetta {tag} eliminata",
    "task_title_unanswered": "{phase} ({template}): richiesta al cliente {requests} senza risposta",
    "task_note_unanswered": "Le richieste al cliente {requests} sono terminate: decidere senza le risposte del "
                            "cliente, poi completare o saltare la fase.",
    "task_note_unanswered_cancelled": "La richiesta al cliente {requests} è stata annullata: decidere senza le "
                                      "risposte del cliente, poi completare o saltare la fase.",
    "task_note_unanswered_expired": "La richiesta al cliente {requests} è scaduta senza risposta del cliente: decidere "
                                    "senza le sue risposte, poi completare o saltare la fase.",
    "reason_ended_by_phase": "fine disposta dalla fase '{phase}'",
    "reason_cancelled_in_temporal": "annullato tramite Temporal",
    "reason_process_aborted": "processo interrotto",
    "reason_process_aborted_why": "processo interrotto: {reason}",
    "reason_process_cancelled": "processo annullato",
    "reason_process_cancelled_why": "processo annullato: {reason}",
    "reason_process_ended_why": "processo terminato: {reason}",
    "reason_loop_guard": "processo annullato dal controllo dei cicli",
    "reason_loop_guard_why": "controllo dei cicli: '{key}' è stato avviato {starts} volte oggi sulla scheda "
                             "{record_id} (il limite è {limit})",
    "reason_phase_skipped": "fase '{phase}' saltata",
    "reason_phase_skipped_why": "fase '{phase}' saltata: {reason}",
    "step_task": "attività della fase",
    "step_responsible": "responsabile della fase",
    "step_decision": "decisione",
    "step_deadline_notice": "avviso di scadenza",
    "step_bookkeeping": "registrazione: {what}",
    "step_history": "cronologia",
    "step_loop_guard": "controllo dei cicli",
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
    for key, pattern in patterns:
        if (found := pattern.fullmatch(text)) is not None:
            values = {name: _read_back(locale, value, patterns) if name == "what" else
                      user(value) if name == "user" and user is not None else value
                      for name, value in found.groupdict().items()}
            return history_text(locale, key, **values)
    return text


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
