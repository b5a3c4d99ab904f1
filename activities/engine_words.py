"""The words of the emails the engine writes itself (the templates' texts are the office's own, but for the defaults
of those a template leaves out), in English and Italian, as the client request forms keep theirs
(`api/client_forms/i18n.py`): a locale picks the table of its language (it, it_CH, it-IT: Italian), any other gets
English. The API's notices to staff (a new case, a timeline event) take theirs from here too.

A moment is written in the installation's TIMEZONE, in the locale's words (Babel), with the zone's name:
"Friday, December 11, 2026, 6:15 AM UTC", "venerdì 11 dicembre 2026 07:15 CET".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from processes.action_kinds import NOTIFY_MESSAGE, OWNER_MESSAGE, REMINDER_MESSAGE
from processes.formatting import date_and_time, parse_locale
from processes.languages import language

ENGLISH = {
    "invitation": "Invitation: {title}",
    "updated_invitation": "Updated invitation: {title}",
    "cancelled": "Cancelled: {title}",
    "cancelled_text": "This appointment is cancelled.",
    "cancelled_why": "This appointment is cancelled: {reason}",
    "reminder": "Reminder: {phase}",
    "overdue": "Overdue: {phase} ({template})",
    "overdue_text": "The phase '{phase}' of the process '{template}' ({workflow_id}) on record {record_id} passed "
                    "its deadline, {deadline}, without being completed.\nResponsible: {responsible}.\nThe phase goes "
                    "on; it can be completed, skipped or the process aborted by staff.\n",
    "nobody": "nobody",
    "sign": "Document to sign",
    "sign_text": "Please read and sign the document: {link}\n\nThe link is good until {until}.",
    "loop_guard": "Loop guard cancelled {workflow_id} ('{template}') on record {record_id}{title}",
    "loop_guard_text": "The process '{template}' ({workflow_id}) on record {record_id}{title} was cancelled before "
                       "its first phase: the template had already run {runs} times today on this record (the limit "
                       "is {limit}), started by hand, by follow-ups or by autostarts that start it again and again. "
                       "Check the templates' follow-up and autostart settings.\n",
    "task_reminder": "Reminder: {title} (due {due})",
    "task_reminder_text": "Your task '{title}' is due {due}.\n",
    "task_category": "Category: {category}\n",
    "phase_skipped": "phase '{phase}' skipped",
    "process_aborted": "process aborted",
    "recent_activity": "Recent activity:",
    "forward": "Fwd: {subject}",
    "forwarded": "---------- Forwarded message ----------",
    "forwarded_from": "From",
    "forwarded_date": "Date",
    "forwarded_subject": "Subject",
    "forwarded_to": "To",
    "logged_by": "Logged by",
    "logged_email": "Email of {when}",
    "new_case": "New case: {name}",
    "new_case_text": "The case '{name}' (case {case_id}) was created and you were asked to know of it.\n",
    "event_note": "Note",
    "event_email": "Email",
    "event_call": "Call",
    "event_meeting": "Meeting",
    "event": "{kind} on {record}",
    "event_text": "{kind} of {when} on '{record}' (record {record_id}):\n\n{description}\n",
}

ITALIAN = {
    "invitation": "Invito: {title}",
    "updated_invitation": "Invito aggiornato: {title}",
    "cancelled": "Annullato: {title}",
    "cancelled_text": "Questo appuntamento è annullato.",
    "cancelled_why": "Questo appuntamento è annullato: {reason}",
    "reminder": "Promemoria: {phase}",
    "overdue": "In ritardo: {phase} ({template})",
    "overdue_text": "La fase '{phase}' del processo '{template}' ({workflow_id}) sulla scheda {record_id} ha superato "
                    "la scadenza, {deadline}, senza essere completata.\nResponsabile: {responsible}.\nLa fase "
                    "continua; lo staff può completarla, saltarla o interrompere il processo.\n",
    "nobody": "nessuno",
    "sign": "Documento da firmare",
    "sign_text": "Legga e firmi il documento: {link}\n\nIl link vale fino a {until}.",
    "loop_guard": "Il controllo dei cicli ha annullato {workflow_id} ('{template}') sulla scheda {record_id}{title}",
    "loop_guard_text": "Il processo '{template}' ({workflow_id}) sulla scheda {record_id}{title} è stato annullato "
                       "prima della sua prima fase: il modello era già stato avviato {runs} volte oggi su questa "
                       "scheda (il limite è {limit}), a mano, da processi successivi o da avvii automatici che lo "
                       "avviano più e più volte. Controllare i processi successivi e gli avvii automatici dei "
                       "modelli.\n",
    "task_reminder": "Promemoria: {title} (scadenza {due})",
    "task_reminder_text": "La sua attività '{title}' scade {due}.\n",
    "task_category": "Categoria: {category}\n",
    "phase_skipped": "fase '{phase}' saltata",
    "process_aborted": "processo interrotto",
    "recent_activity": "Cronologia recente:",
    # Gmail writes "Fwd:" in Italian too, Outlook "I:": "Fwd:" is the one any mail program and any reader takes for a
    # forward, and it goes with the block below, written as Gmail writes it in Italian
    "forward": "Fwd: {subject}",
    "forwarded": "---------- Messaggio inoltrato ---------",
    "forwarded_from": "Da",
    "forwarded_date": "Data",
    "forwarded_subject": "Oggetto",
    "forwarded_to": "A",
    "logged_by": "Registrata da",
    "logged_email": "Email del {when}",
    "new_case": "Nuova pratica: {name}",
    "new_case_text": "È stata creata la pratica '{name}' (pratica n. {case_id}); chi l'ha creata ha chiesto di "
                     "avvisarla.\n",
    "event_note": "Nota",
    "event_email": "Email",
    "event_call": "Telefonata",
    "event_meeting": "Incontro",
    "event": "{kind} su {record}",
    "event_text": "{kind} del {when} su '{record}' (scheda {record_id}):\n\n{description}\n",
}

LANGUAGES = {"en": ENGLISH, "it": ITALIAN}

# an action's text its template left out (English Jinja2, processes/action_kinds.py), in another language
DEFAULT_TEXTS = {"it": {
    OWNER_MESSAGE: "Buongiorno,\n\nun aggiornamento su {{ record.title }}.\n\nStato: {{ record.status }}\n"
                   "Processo: {{ process.template_name }}, fase: {{ phase.name }}\n"
                   "{% if record.owner %}Il suo referente: {{ record.owner.name }}, {{ record.owner.email }}\n"
                   "{% endif %}",
    REMINDER_MESSAGE: "Promemoria: la fase '{{ phase.name }}' del processo '{{ process.template_name }}' è ancora "
                      "aperta.",
    NOTIFY_MESSAGE: "{{ record.title }} è ora nello stato {{ record.status }}.",
}}


def say(locale: str) -> Callable[..., str]:
    table = LANGUAGES[language(locale)]

    def text(key: str, **values: object) -> str:
        return table[key].format(**values)

    return text


def default_text(text: str, locale: str) -> str:
    """An action's `text`; in the locale's language when it is the default its template left as it is."""
    return DEFAULT_TEXTS.get(language(locale), {}).get(text, text)


def moment_text(moment: datetime, locale: str, zone: ZoneInfo) -> str:
    """The date and time of day in `zone`, written in `locale`, with the zone's name (a naive moment is UTC)."""
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)
    return f"{date_and_time(local, parse_locale(locale), 'full', joining='full')} {local:%Z}"
