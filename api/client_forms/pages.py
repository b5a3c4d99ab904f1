"""The pages a client sees: the request's form, its confirmation, and a clear page for every link that
cannot be used, in the request's language (an unknown link: in the browser's, else English).

`GET /r/{token}` shows the form (200); a submitted request says so (200), a cancelled or expired one is
gone (410), and so is a link a resend replaced (its page says when the newer one was sent); an unknown token is 404
and counts towards the address's guess limit (429 past it).
`POST /r/{token}` reads the multipart form (its size bounded before it is read: api.admission,
CLIENT_REQUEST_MAX_BODY_BYTES; its files spooled to disk), checks the CSRF token, then every answer (numbers
read in the form's language): problems show the form again (422) with nothing stored, saying at each file question
whose file was sent that it must be chosen again; a valid form is stored in one transaction and
answered with the confirmation (200). A request already answered: 409 with the already-sent page.
"""

from __future__ import annotations

import base64
import hashlib
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from api.admission import BodyTooLarge, body_limit
from api.client_forms import guard
from api.client_forms.i18n import from_accept_language, kind_name, say, size_text, words
from api.deps import SessionDep, SettingsDep
from crm.client_requests import store
from crm.client_requests.answers import Problem, Upload, check, parse_date
from crm.client_requests.errors import ClientRequestClosed
from crm.client_requests.models import ClientRequest, RequestStatus
from crm.client_requests.questions import QuestionType
from crm.client_requests.submit import submit
from crm.documents.storage import storage_for
from settings import Settings
from workflows.request_delivery import submission_stored

router = APIRouter(include_in_schema=False)
MAX_FIELDS = 2_000  # a multi_choice sends one field per option ticked

CSS = """body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;margin:0;color:#1a1a1a;
background:#fafafa}main{max-width:40rem;margin:0 auto;padding:1rem 1rem 3rem;overflow-wrap:anywhere}h1{font-size:1.5rem}
.message{white-space:pre-line}.question{margin:1.25rem 0;padding:.75rem;background:#fff;border:1px solid #ccc;
border-radius:.4rem}.question.invalid{border:2px solid #b00020}label,legend{display:block;font-weight:600}
fieldset{border:0;margin:0;padding:0}.option{display:flex;align-items:center;gap:.5rem;margin:.4rem 0}
.option label{font-weight:400}input[type=text],input[type=date],textarea{box-sizing:border-box;width:100%;
font-size:1rem;padding:.6rem;border:1px solid #767676;border-radius:.3rem}input[type=radio],input[type=checkbox]{
width:1.4rem;height:1.4rem}input[type=file]{font-size:1rem;max-width:100%}.help,.hint{color:#444;margin:.25rem 0}
.error{color:#b00020;font-weight:600;margin:.25rem 0}.errors{border:2px solid #b00020;padding:.5rem 1rem;
background:#fff}.errors a{color:#b00020}.marker{font-weight:400;color:#444}button{font-size:1.1rem;
padding:.75rem 2rem;background:#0b5394;color:#fff;border:0;border-radius:.4rem;min-height:44px}
button:focus,input:focus,textarea:focus{outline:3px solid #f9a825;outline-offset:2px}"""
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY",
           "Content-Security-Policy": f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; form-action 'self'; "
                                      "frame-ancestors 'none'; base-uri 'none'"}

_env = Environment(loader=FileSystemLoader(str(files("api.client_forms") / "templates")),
                   autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)


def _render(name: str, status: int, language: str, **values: Any) -> HTMLResponse:
    w = words(language)
    html = _env.get_template(name).render(css=CSS, lang=w["lang"], w=w, **values)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def message_page(status: int, language: str, name: str, **values: Any) -> HTMLResponse:
    """A page of a title and a sentence: `name` is the words' prefix (expired -> expired_title, expired_text)."""
    text = say(words(language))
    return _render("message.html", status, language, page_title=text(f"{name}_title"),
                   text=text(f"{name}_text", **values))


DATES = {"en": "%Y-%m-%d", "de": "%d.%m.%Y"}  # else 31/03/2026 (Italian, French), as the form's date hint shows


def _date(settings: Settings, request: ClientRequest, moment: Any) -> str:
    """A moment's day as the client reads it in the request's language, in the office's time zone."""
    if moment is None:
        return "-"
    return moment.astimezone(settings.zone).strftime(DATES.get(words(request.language)["lang"], "%d/%m/%Y"))


def _problem_text(language: str, problem: Problem) -> str:
    values = dict(problem.values)
    for name in ("size", "limit") if problem.message == "e_file_large" else ():
        values[name] = size_text(values[name])
    if "kind" in values:
        values["kind"] = kind_name(values["kind"])
    if "kinds" in values:
        values["kinds"] = ", ".join(kind_name(k) for k in values["kinds"])
    return say(words(language))(problem.message, **values)


def _question_view(question: dict[str, Any], language: str, sent: dict[str, list[str]],
                   max_file_bytes: int) -> dict[str, Any]:
    text = say(words(language))
    kind, values = question["type"], sent.get(question["key"], [])
    view = {**question, "help": question.get("help", ""), "hint": "", "value": values[0] if values else "",
            "chosen": values, "choices": [], "accept": ""}
    if kind in (QuestionType.choice, QuestionType.multi_choice):
        view["choices"] = [{"value": o, "label": o} for o in question["options"]]
        view["hint"] = text("choose_any") if kind == QuestionType.multi_choice else ""
    elif kind == QuestionType.yes_no:
        view["choices"] = [{"value": "yes", "label": text("yes")}, {"value": "no", "label": text("no")}]
    elif kind == QuestionType.number:
        view["hint"] = text("number_hint")
    elif kind == QuestionType.date:
        view["hint"] = text("date_hint")
        if values and (day := parse_date(values[0])) is not None:
            view["value"] = day.isoformat()  # shown again in a date field, which takes 2026-03-31 and nothing else
    elif kind == QuestionType.file:
        from crm.documents.sniff import EXTENSIONS

        accepted = question.get("accept") or sorted(EXTENSIONS)
        limit = min(question.get("max_bytes") or max_file_bytes, max_file_bytes)
        view["accept"] = ",".join([*accepted, *(e for k in accepted for e in EXTENSIONS[k])])
        view["hint"] = text("file_hint", kinds=", ".join(dict.fromkeys(kind_name(k) for k in accepted)),
                            size=size_text(limit))
    return view


def _file_name(name: str) -> str:
    """A chosen file's name as the client knows it (its last part, at most 100 characters), to be shown."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name if len(name) <= 100 else name[:99] + "…"


def form_page(settings: Settings, request: ClientRequest, token: str, status: int = 200,
              sent: dict[str, list[str]] | None = None, problems: dict[str, Problem] | None = None,
              dropped: dict[str, str] | None = None) -> HTMLResponse:
    """The form; shown again (422) with the answers `sent`, the `problems` by question, and, by question, the name of
    each file sent with it (`dropped`): a browser cannot keep a chosen file in a page shown again, so the page says
    that one refused for no fault of its own must be chosen again."""
    language = request.language
    text = say(words(language))
    problems, dropped = problems or {}, dropped or {}
    secret = guard.form_secret(settings)
    csrf = guard.csrf_token(secret, request.token_hash)
    questions = [_question_view(q, language, sent or {}, settings.client_request_max_file_bytes)
                 for q in request.questions]
    again = {q["key"]: text("e_file_again", name=_file_name(dropped[q["key"]])) for q in request.questions
             if q["type"] == QuestionType.file and q["key"] in dropped and q["key"] not in problems}
    response = _render("form.html", status, language, page_title=request.title, message=request.message,
                       questions=questions, action=f"/r/{token}", csrf=csrf,
                       problems={k: _problem_text(language, p) for k, p in problems.items()}, again=again,
                       expires=text("expires", date=_date(settings, request, request.expires_at),
                                    time=f"{request.expires_at.astimezone(settings.zone):%H:%M}"))
    response.set_cookie(guard.COOKIE, csrf, path=f"/r/{token}", httponly=True, samesite="strict",
                        secure=settings.public_url.startswith("https://"))
    return response


def _address(http: Request) -> str:
    return http.client.host if http.client else "unknown"


async def _find(http: Request, session: SessionDep, settings: Settings, token: str,
                answered: int) -> ClientRequest | HTMLResponse:
    """The pending request, or the page saying why there is none to fill (`answered`: its status once answered)."""
    guess_limit: guard.GuessLimit = http.app.state.client_form_guesses
    language = from_accept_language(http.headers.get("accept-language", ""))
    if guess_limit.blocked(_address(http)):
        return message_page(429, language, "slow")
    request = await store.find_by_token(session, token)
    if request is None:
        replaced = await store.find_replaced(session, token)
        if replaced is None:
            guess_limit.miss(_address(http))
            return message_page(404, language, "unknown")
        request, link = replaced
        if request.status in (RequestStatus.pending, RequestStatus.expired):  # else its status says all there is
            return message_page(410, request.language, "replaced", date=_date(settings, request, link.replaced_at))
    if request.status == RequestStatus.cancelled:
        return message_page(410, request.language, "cancelled")
    if request.status == RequestStatus.submitted:
        return message_page(answered, request.language, "already",
                            date=_date(settings, request, request.submitted_at))
    if store.is_expired(request):
        return message_page(410, request.language, "expired")
    return request


@router.get("/r/{token}", response_class=HTMLResponse)
async def show_form(token: str, http: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    found = await _find(http, session, settings, token, answered=200)
    return found if isinstance(found, HTMLResponse) else form_page(settings, found, token)


def _split(form: FormData) -> tuple[dict[str, list[str]], dict[str, Upload]]:
    fields: dict[str, list[str]] = {}
    uploads: dict[str, Upload] = {}
    for name, value in form.multi_items():
        if not name.startswith("q."):
            continue
        key = name[2:]
        if isinstance(value, UploadFile):
            if value.filename and key not in uploads:
                uploads[key] = Upload(value.filename, value.content_type or "", value.file)
        else:  # NUL, which no one types and a paste can bring, is dropped: no text keeps it
            fields.setdefault(key, []).append(value.replace("\x00", ""))
    return fields, uploads


@router.post("/r/{token}", response_class=HTMLResponse)
@body_limit("client_request_max_body_bytes")
async def submit_form(token: str, http: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    found = await _find(http, session, settings, token, answered=409)
    if isinstance(found, HTMLResponse):
        return found
    content_type = http.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return message_page(400, found.language, "refused")
    files_asked = sum(q["type"] == QuestionType.file for q in found.questions)
    try:
        form = await http.form(max_files=files_asked, max_fields=MAX_FIELDS)
    except BodyTooLarge:  # sent without its length, and over the limit once counted (api.admission)
        return message_page(413, found.language, "large", size=size_text(settings.client_request_max_body_bytes))
    except (MultiPartException, HTTPException):  # too many parts, a part too large, a malformed body
        return message_page(400, found.language, "refused")
    try:
        secret = guard.form_secret(settings)
        if not guard.csrf_valid(secret, found.token_hash, form.get(guard.FIELD),
                                 guard.cookies_sent(http.headers.get("cookie"))):
            return message_page(403, found.language, "refused")
        fields, uploads = _split(form)
        checked = check(found.questions, fields, uploads, settings.client_request_max_file_bytes,
                        words(found.language)["lang"])  # numbers read in the form's language, as its hint shows
        if checked.problems:
            return form_page(settings, found, token, 422, fields, checked.problems,
                             {key: upload.name or "" for key, upload in uploads.items()})
        try:
            await submit(session, storage_for(settings), found, checked, settings.locale)
        except ClientRequestClosed:
            await session.refresh(found)
            if found.status == RequestStatus.submitted:
                return message_page(409, found.language, "already", date=_date(settings, found, found.submitted_at))
            return message_page(410, found.language, "expired" if found.status != RequestStatus.cancelled
                                else "cancelled")
        await submission_stored(getattr(http.app.state, "temporal", None), settings, session, found)  # else the sweep
        return message_page(200, found.language, "sent")
    finally:
        await form.close()
