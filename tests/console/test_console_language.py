"""The console speaks the office's language (LOCALE): every text of its pages has its Italian."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx

from api.app import create_app
from api.console.delivery_pages import KINDS as DELIVERY_KINDS
from api.console.i18n import ITALIAN
from api.console.web import _when
from crm.cases.models import CaseState
from crm.client_requests.models import AutoMove, RequestStatus
from crm.client_requests.questions import QuestionType
from crm.db import make_engine, make_sessionmaker
from crm.deliveries import DeliveryStatus
from crm.imports.models import ImportKind, ImportStatus
from crm.models import HistoryKind, MessageStatus, TaskStatus
from crm.process_runs import RunStatus
from processes.instance import PhaseStatus, ProcessStatus
from processes.template_basics import RecordKind
from settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "api" / "console"
LITERAL = re.compile(r'''\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')''')


def _texts() -> set[str]:
    found = set()
    for path in [*CONSOLE.rglob("*.html"), *CONSOLE.rglob("*.py")]:
        found |= {a or b for a, b in LITERAL.findall(path.read_text())}
    return found


def test_every_text_has_its_italian() -> None:
    """Every `_("...")` of the pages and every status or kind they show is in the Italian table"""
    texts = _texts()
    assert len(texts) > 100  # the walk found the pages
    shown = {member.value for enum in (ProcessStatus, PhaseStatus, TaskStatus, MessageStatus, RecordKind, RunStatus,
                                       HistoryKind, RequestStatus, QuestionType, AutoMove, ImportStatus, ImportKind, CaseState,
                                       DeliveryStatus)
             for member in enum}
    shown |= set(DELIVERY_KINDS.values())
    shown |= set(Settings.model_fields["task_categories"].default_factory())  # type: ignore[misc]  # the default categories
    missing = sorted((texts | shown) - ITALIAN.keys())
    assert not missing, missing
    placeholders = [text for text in texts if set(re.findall(r"\{\w+\}", text)) !=
                    set(re.findall(r"\{\w+\}", ITALIAN[text]))]
    assert not placeholders, placeholders


def _worded() -> set[str]:
    """Every refusal the code words (`StagecoachError.worded("...", ...)`): what the console says with its values."""
    found = set()
    for path in [ROOT / "api", ROOT / "crm", ROOT / "processes", ROOT / "activities"]:
        for module in path.rglob("*.py"):
            for node in ast.walk(ast.parse(module.read_text())):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "worded" \
                        and node.args and isinstance(node.args[0], ast.Constant):
                    found.add(node.args[0].value)
    return found


def test_every_worded_refusal_has_its_italian() -> None:
    """A refusal shown in the console (a move the board refused, a file not kept, a record not found) was English in
    the Italian console: each worded one has its Italian, with the same values"""
    worded = _worded()
    assert len(worded) > 20
    assert not sorted(worded - ITALIAN.keys()), sorted(worded - ITALIAN.keys())
    assert not [text for text in worded if set(re.findall(r"\{\w+\}", text)) !=
                set(re.findall(r"\{\w+\}", ITALIAN[text]))]


async def test_a_page_in_italian(tmp_path: Path) -> None:
    """With LOCALE=it the sign-in page is in Italian, and says so to screen readers (lang="it")"""
    settings = Settings(locale="it", database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    app = create_app(settings, temporal=object())  # type: ignore[arg-type]  # the page asks Temporal nothing
    engine = make_engine(settings.database_url)
    app.state.settings, app.state.sessions = settings, make_sessionmaker(engine)  # what the lifespan sets
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console") as client:
            page = await client.get("/console/sign-in")
    finally:
        await engine.dispose()
    assert page.status_code == 200
    assert '<html lang="it">' in page.text and "Nome utente" in page.text and ">Accedi</button>" in page.text
    assert "Sign in" not in page.text


def test_moments_are_written_as_the_office_reads_them() -> None:
    """The console's dates and times are in the office's time zone and language (4 dic 2026 06:58 in Rome), not
    ISO 8601 in every language"""
    moment = datetime(2026, 12, 4, 5, 58, tzinfo=UTC)
    rome = Settings(locale="it", timezone="Europe/Rome", database_url="sqlite+aiosqlite:///:memory:")
    assert _when(rome)(moment) == "4 dic 2026 06:58"
    assert _when(Settings(locale="en", database_url="sqlite+aiosqlite:///:memory:"))(moment) == "Dec 4, 2026 5:58\u202fAM"
    assert _when(rome)(None) == ""
