"""An email's subject arrives as rendered: accented text, long subjects that fold, commas and quotes, read back
from the Subject header a real SMTP server received."""

from __future__ import annotations

import random
import uuid

import pytest

from activities.mailer import Mailer
from settings import Settings
from tests.e2e.conftest import MailCatcher, Stack
from tests.polling import eventually

SUBJECTS = [
    # a space after a comma between two encoded words is where Python 3.11's folder lost it (gh-144156)
    "Proprietà Appartamento 5 in Via Università 5, Forlì: è tutto pronto – canone € 1.200,00",
    "Caro Niccolò, la visita di giovedì è confermata: perché non portare anche l'atto notarile?",
    "Réservation confirmée : « Hôtel de la Gare », 12, rue de l'Église, Besançon — arrivée à 15 h",
    "Grüße aus München: Übergabe der Wohnung „Straße des 17. Juni“, Schlüssel für Frau Müller",
    "Zażółć gęślą jaźń, Łódź: umowa najmu mieszkania przy ulicy Świętokrzyskiej 3, Kraków",
    'He said "ciao, à bientôt" to Zoë, then left: "Straße", "Łódź", "Forlì"',
    "  two leading spaces, then  two  inside, and a tab\tstays: città ",
    "ASCII only, but long enough to fold: the quarterly review of the lease for the flat in Via Roma 3, Milan",
    "Text that looks encoded, =?utf-8?q?caf=C3=A9?=, is sent as written",
    "€" * 90,
    "Città, " * 40,
]
WORDS = ("Via Università Forlì città perché è più già Niccolò caffè 5, 12 – € 1.200,00 : « » „ “ \" ' "
         "Łódź Grüße Église über déjà vu, naïve façade").split(" ")


@pytest.fixture
def mailer(smtp: tuple[MailCatcher, int]) -> Mailer:
    return Mailer(Settings(smtp_host="127.0.0.1", smtp_port=smtp[1], smtp_from="processes@agency.example"))


async def _received_subject(mailer: Mailer, catcher: MailCatcher, subject: str) -> str:
    to = f"subject-{uuid.uuid4().hex[:8]}@example.org"
    await mailer.deliver(to=to, subject=subject, body="Hello", message_id=f"<{uuid.uuid4().hex}@t>")
    [message] = catcher.to(to)
    return str(message["Subject"])


@pytest.mark.parametrize("subject", SUBJECTS)
async def test_a_subject_arrives_as_rendered(smtp: tuple[MailCatcher, int], mailer: Mailer, subject: str) -> None:
    assert await _received_subject(mailer, smtp[0], subject) == subject


async def test_random_accented_subjects_arrive_as_rendered(smtp: tuple[MailCatcher, int], mailer: Mailer) -> None:
    """Subjects of 5 to 40 words with accents, commas and quotes: none loses or gains a space"""
    rng = random.Random(144156)
    subjects = [" ".join(rng.choices(WORDS, k=rng.randint(5, 40))) for _ in range(300)]
    wrong = [(subject, received) for subject in subjects
             if (received := await _received_subject(mailer, smtp[0], subject)) != subject]
    assert wrong == []


async def test_a_send_email_action_subject_arrives_as_the_outbox_keeps_it(stack: Stack) -> None:
    """The finding's case over the whole stack: the rendered subject in the outbox is the one the client reads"""
    http, admin, staff = stack.http, stack.as_("admin"), stack.as_("staff")
    handle = f"u{uuid.uuid4().hex[:6]}"
    owner = (await http.post("/users", headers=admin, json={
        "handle": handle, "name": "Anna", "email": f"{handle}@agency.example"})).json()
    record = (await http.post("/records", headers=staff, json={
        "kind": "lead", "title": "Appartamento 5 in Via Università 5, Forlì", "email": f"client-{handle}@example.org",
        "owner_id": owner["id"]})).json()
    key = f"locazione-{uuid.uuid4().hex[:6]}"
    saved = await http.post("/templates", headers={**admin, "Content-Type": "application/yaml"}, content=f"""
key: {key}
name: Gestione locazione
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: benvenuto
    name: Benvenuto
    actions:
      - send_email:
          to: record_contact
          subject: "Proprietà {{{{ record.title }}}}: è tutto pronto – canone € 1.200,00"
          body: "Gentile cliente"
""")
    assert saved.status_code == 201, saved.text
    started = await http.post("/processes", headers=staff, json={"template": key, "record_id": record["id"]})
    assert started.status_code == 201, started.text

    async def sent() -> list[dict[str, str]]:
        rows = (await http.get("/outbox", headers=staff, params={"workflow_id": started.json()["workflow_id"]})).json()
        return rows if rows and rows[0]["status"] == "sent" else []
    [row] = await eventually(sent)
    [mail] = stack.mail.to(record["email"])
    expected = "Proprietà Appartamento 5 in Via Università 5, Forlì: è tutto pronto – canone € 1.200,00"
    assert row["subject"] == expected
    assert mail["Subject"] == expected
