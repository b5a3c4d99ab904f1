"""The words of the records' history lines (processes/history_words.py): every line has an English and an Italian
text with the same placeholders, so a line written in either language never misses a value."""

from __future__ import annotations

from string import Formatter

import pytest

from processes.history_words import ENGLISH, ITALIAN, english, history_text, reason_in, said, step_in, summary_in


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name is not None}


def test_every_line_is_in_both_languages() -> None:
    assert set(ITALIAN) == set(ENGLISH)


@pytest.mark.parametrize("key", sorted(ENGLISH))
def test_a_line_has_the_same_placeholders_in_both_languages(key: str) -> None:
    assert placeholders(ITALIAN[key]) == placeholders(ENGLISH[key]), key


@pytest.mark.parametrize("locale", ["it", "en"])
@pytest.mark.parametrize("key", sorted(ENGLISH))
def test_a_line_is_written_with_its_values_whatever_their_names(locale: str, key: str) -> None:
    values = {name: f"<{name}>" for name in placeholders(ENGLISH[key])}  # `key` and `locale` among them
    assert all(value in history_text(locale, key, **values) for value in values.values())
    assert said(key, **values).text(locale) == history_text(locale, key, **values)


@pytest.mark.parametrize("locale", ["it", "it_IT", "it-CH", "IT"])
def test_an_italian_locale_writes_italian(locale: str) -> None:
    assert history_text(locale, "phase_started", phase="Sopralluogo") == "Fase 'Sopralluogo' avviata"


@pytest.mark.parametrize("locale", ["en", "en_GB", "fr", "de-CH", ""])
def test_any_other_locale_writes_english(locale: str) -> None:
    assert history_text(locale, "process_started", template="Vendita", version=1) == \
        "Process 'Vendita' (version 1) started"


def test_a_workflow_line_says_its_english_until_written() -> None:
    line = said("status_changed", previous="A", status="B")
    assert line.english == english("status_changed", previous="A", status="B") == "Status changed from 'A' to 'B'"
    assert line.text("it") == "Stato cambiato da 'A' a 'B'"


@pytest.mark.parametrize(("reason", "italian"), [
    ("ended by phase 'firma'", "fine disposta dalla fase 'firma'"),
    ("cancelled through Temporal", "annullato tramite Temporal"),
    ("process aborted", "processo interrotto"),
    ("process aborted: cancelled through Temporal", "processo interrotto: annullato tramite Temporal"),
    ("process ended: ended by phase 'firma'", "processo terminato: fine disposta dalla fase 'firma'"),
    ("process cancelled by the loop guard", "processo annullato dal controllo dei cicli"),
    ("phase 'Sopralluogo' skipped", "fase 'Sopralluogo' saltata"),
    ("phase 'Sopralluogo' skipped: the client: away", "fase 'Sopralluogo' saltata: the client: away"),
    ("process cancelled: loop guard: 'sale' was started 6 times today on record 3 (the limit is 5)",
     "processo annullato: controllo dei cicli: 'sale' è stato avviato 6 volte oggi sulla scheda 3 (il limite è 5)"),
])
def test_a_reason_the_engine_gave_is_said_in_the_offices_language(reason: str, italian: str) -> None:
    assert reason_in("it_IT", reason) == italian
    assert reason_in("en", reason) == reason


@pytest.mark.parametrize("reason", ["il cliente ha rinunciato", "process aborted!", "ended by phase", ""])
def test_a_reason_staff_or_a_template_gave_stays_as_written(reason: str) -> None:
    assert reason_in("it", reason) == reason


def test_a_line_says_the_engines_reason_in_its_language() -> None:
    line = said("process_aborted", template="Vendita", reason="cancelled through Temporal")
    assert line.text("it") == "Processo 'Vendita' interrotto: annullato tramite Temporal"
    assert line.english == line.text("en") == "Process 'Vendita' aborted: cancelled through Temporal"


@pytest.mark.parametrize(("step", "italian"), [
    ("task", "attività della fase"),
    ("responsible", "responsabile della fase"),
    ("decision", "decisione"),
    ("deadline notice", "avviso di scadenza"),
    ("bookkeeping: history", "registrazione: cronologia"),
    ("bookkeeping: loop guard", "registrazione: controllo dei cicli"),
])
def test_a_step_of_the_engine_is_said_in_the_offices_language(step: str, italian: str) -> None:
    assert step_in("it_IT", step) == italian
    assert step_in("en", step) == step


@pytest.mark.parametrize("step", ["actions[1].send_email", "actions[0].reminder", "tasks", ""])
def test_an_actions_step_is_the_templates_path_and_stays_as_written(step: str) -> None:
    assert step_in("it", step) == step


def test_an_incident_line_says_the_engines_step_in_its_language() -> None:
    line = said("incident", phase="Sopralluogo", step=english("step_deadline_notice"), message="SMTP down")
    assert line.text("it") == "Incidente nella fase 'Sopralluogo' al passo avviso di scadenza: SMTP down"
    assert line.english == "Incident in phase 'Sopralluogo' at deadline notice: SMTP down"
    assert said("incident_skip", step="actions[2].webhook").text("it") == \
        "Incidente al passo actions[2].webhook risolto: passo saltato"


def test_every_step_of_the_engine_an_incident_names_has_its_italian() -> None:
    from workflows import incidents

    steps = [incidents.TASK_STEP, incidents.RESPONSIBLE_STEP, incidents.DECISION_STEP, incidents.DEADLINE_NOTICE_STEP,
             incidents.LOOP_GUARD_STEP, english("step_history")]
    assert all(step_in("it", english("step_bookkeeping", what=step)).startswith("registrazione: ") for step in steps)
    assert [step_in("it", step) for step in steps] == [
        "attività della fase", "responsabile della fase", "decisione", "avviso di scadenza", "controllo dei cicli",
        "cronologia"]


def test_a_line_says_who_by_name() -> None:
    """An actor kept as `key:12:crm-sync` or `user:3:maria` is said in the line by its name; Stagecoach's own as
    they are"""
    assert history_text("it", "by_actor", actor="key:12:crm sync") == " da chiave API 'crm sync'"
    assert history_text("en", "by_actor", actor="key:12:crm sync") == " by API key 'crm sync'"
    assert history_text("en", "by_actor", actor="user:3:maria") == " by maria"
    assert history_text("en", "by_actor", actor="client request #4") == " by client request #4"


@pytest.mark.parametrize("key", sorted(key for key in ENGLISH if key.startswith("summary_")))
def test_an_actions_summary_reads_back_into_italian(key: str) -> None:
    """Every summary an action writes (in English, kept in the process's state) is found again and said in Italian
    with its values; an outcome in the console's words, a user by the name the console gives them"""
    values = {name: f"<{name}>" for name in placeholders(ENGLISH[key])}
    if "outcome" in values:
        values["outcome"] = "held"
    read = summary_in("it", english(key, **values), user=lambda number: f"named {number}")
    expected = history_text("it", key, **{**values, **({"user": "named <user>"} if "user" in values else {})})
    assert read == expected and read != english(key, **values), read


def test_a_summary_the_console_knows_no_words_for_stays_as_written() -> None:
    assert summary_in("it", "something else happened") == "something else happened"
    assert summary_in("en", "task 4 for user 7") == "task 4 for user 7"
    assert summary_in("en", "task 4 for user 7", user=lambda n: "Maria Rossi") == "task 4 for user Maria Rossi"
    assert summary_in("it", "email held (outbox message 1, to record_contact)") == \
        "email trattenuta (messaggio 1 della posta in uscita, a record_contact)"
    assert summary_in("it", "SMS delivered (delivery 3, to record_contact)") == \
        "SMS consegnato (invio 3, a record_contact)"
