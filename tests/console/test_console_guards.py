"""What a browser would not send, sent to the console over HTTP: guessed passwords, forms without their
tokens, bodies over the limit, anonymous posts, a form sent twice or its key reused, a hidden record, bad
filters. Each is refused with a page saying why, and changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, delete, update

from crm.staff_sessions import MAX_ADDRESS_FAILURES, MAX_FAILURES, SignInFailure, StaffSession
from crm.types import utcnow
from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async
from tests.e2e.conftest import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e

TEMPLATE = """
key: {key}
name: Guards
controller_email: controller@agency.example
record_kind: lead
phases:
  - {{key: one, name: One, completion: manual}}
  - {{key: two, name: Two, completion: manual}}
  - {{key: three, name: Three, completion: manual}}
"""


async def test_the_console_refuses_what_it_must(stack: Stack, sessions: Any) -> None:
    """Guessing, forged and oversized forms, anonymous posts, replays, reused keys, hidden records, bad filters"""
    staff = await staff_user(sessions)
    other = await staff_user(sessions, "Luca Bianchi")
    admin = stack.as_("admin")
    key = f"guards-{uuid.uuid4().hex[:8]}"
    assert (await stack.http.post("/templates", headers={**admin, "Content-Type": "application/yaml"},
                                  content=TEMPLATE.format(key=key))).status_code == 201
    record = (await stack.http.post("/records", headers=admin, json={"kind": "lead", "title": f"Guarded {key}",
                                                                      "owner_id": staff.user.id})).json()
    hidden = (await stack.http.post("/records", headers=admin, json={
        "kind": "lead", "title": f"Hidden {key}", "owner_id": staff.user.id, "restricted": True})).json()
    started = await stack.http.post("/processes", headers=admin, json={"template": key, "record_id": record["id"]})
    workflow_id = started.json()["workflow_id"]
    await eventually(lambda: _current(stack, workflow_id, "one"), what="the process waits in phase one")
    base = str(stack.http.base_url)
    url = f"/console/processes/{workflow_id}"

    async with httpx.AsyncClient(base_url=base, timeout=30) as guesser:
        too_long = await sign_in_async(guesser, other.user.handle, "x" * 100_000)  # said so, not "give a password"
        assert too_long.status_code == 422 and "A password is at most 1,000 characters." in too_long.text
        for _ in range(MAX_FAILURES):
            assert (await sign_in_async(guesser, staff.user.handle, "a wrong password!")).status_code == 401
        locked = await sign_in_async(guesser, staff.user.handle, staff.password)  # the right one, too late
        assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
        no_token = await guesser.post("/console/sign-in", data={"handle": other.user.handle, "password": other.password})
        assert no_token.status_code == 403

    async with httpx.AsyncClient(base_url=base, timeout=30) as anonymous:
        posted = await anonymous.post(f"{url}/skip", data={"phase": "one", "reason": "anonymous"})
        assert posted.status_code == 303 and posted.headers["location"].startswith("/console/sign-in")
        huge = await anonymous.post(f"{url}/skip", content=b"reason=" + b"x" * 1_100_000,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert huge.status_code == 413

    # over TLS (behind a proxy that says so) the session cookie is Secure too
    async with httpx.AsyncClient(base_url=base, timeout=30, headers={"X-Forwarded-Proto": "https"}) as tls:
        form_page = await tls.get("/console/sign-in")
        assert "Secure" in form_page.headers["set-cookie"]  # so httpx keeps it from plain HTTP: send it by hand
        form_token = form_page.headers["set-cookie"].split(";")[0]
        signed = await tls.post("/console/sign-in", headers={"Cookie": form_token}, data={
            "form_token": form_token.split("=", 1)[1], "handle": other.user.handle, "password": other.password})
        cookie = signed.headers["set-cookie"]
        assert "stagecoach_session=" in cookie and "HttpOnly" in cookie and "Secure" in cookie, cookie
        assert "samesite=lax" in cookie.lower()

    async with httpx.AsyncClient(base_url=base, timeout=30) as browser:
        assert (await sign_in_async(browser, other.user.handle, other.password)).status_code == 303
        page = await browser.get(url)
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        token, form_key = csrf_token(page), _idempotency_key(page)
        forged = await browser.post(f"{url}/skip", data={"phase": "one", "reason": "forged"})
        assert forged.status_code == 403 and "security token" in forged.text
        json_body = await browser.post(f"{url}/skip", json={"phase": "one", "csrf_token": token})
        assert json_body.status_code == 403
        # a file the form does not take: the console's page, not the API's JSON
        with_file = await browser.post(f"{url}/skip", data={"phase": "one", "csrf_token": token},
                                       files={"file": ("x.csv", b"a;b\n", "text/csv")})
        assert with_file.status_code == 400 and with_file.headers["content-type"].startswith("text/html")
        assert "not a form this page sends" in with_file.text, with_file.text
        # NUL in a reason reached the process, which then could not write its history on PostgreSQL (stuck for good);
        # in a search it matched everything, or the API's JSON answered
        for path, data in ((f"{url}/skip", {"phase": "one", "reason": "a\x00b"}),
                           (f"{url}/abort", {"reason": "stop\x00now", "confirm": "on"}),
                           (f"{url}/complete", {"phase": "one", "answers": "esito: a\x00b"}),
                           ("/console/tasks", {"record_id": str(record["id"]), "title": "a\x00b"})):
            nul = await browser.post(path, data={**data, "csrf_token": token})
            assert nul.status_code == 422 and "holds the NUL character" in nul.text, (path, nul.text)
        searched = await browser.get("/console/records?q=a%00b")
        assert searched.status_code == 422 and "holds the NUL character" in searched.text
        async with httpx.AsyncClient(base_url=base, timeout=30) as fresh:
            nul_sign_in = await sign_in_async(fresh, "a\x00b", "password")
        assert nul_sign_in.status_code == 422 and "holds the NUL character" in nul_sign_in.text
        assert await _current(stack, workflow_id, "one")

        # the same form sent twice skips one phase; its key sent with another body is refused on the page
        form = {"csrf_token": token, "idempotency_key": form_key, "phase": "one", "reason": "called already"}
        for _ in range(2):
            sent = await browser.post(f"{url}/skip", data=form)
            assert sent.status_code == 303, sent.text
        await eventually(lambda: _current(stack, workflow_id, "two"), what="phase two runs")
        reused = await browser.post(f"{url}/skip", data={**form, "phase": "two"})
        assert reused.status_code == 422 and "was first sent with another request" in reused.text
        state = (await stack.http.get(f"/processes/{workflow_id}", headers=admin)).json()
        assert [p["status"] for p in state["phases"]] == ["skipped", "running", "pending"]

        # a refused request shows the API's message next to its form
        unknown = await browser.post(f"{url}/skip", data={"csrf_token": token, "phase": "fourth", "reason": ""})
        assert unknown.status_code == 404 and 'id="error-skip"' in unknown.text and "fourth" in unknown.text
        no_confirm = await browser.post(f"{url}/abort", data={"csrf_token": token, "reason": "why not"})
        assert no_confirm.status_code == 422 and "confirm" in no_confirm.text
        neither = await browser.post(f"{url}/abort", data={"csrf_token": token, "reason": ""})  # both said at once
        said = neither.text.split('id="error-abort">', 1)[1].split("</p>", 1)[0]
        assert neither.status_code == 422 and said.startswith("Reason: ") and said.endswith(
            "; tick the box to confirm the abort"), said

        # a restricted record of someone else does not exist for them; filters they got wrong are shown
        assert (await browser.get(f"/console/records/{hidden['id']}")).status_code == 404
        assert f"Hidden {key}" not in (await browser.get("/console/records", params={"q": key})).text
        bad = await browser.get("/console/processes", params={"record": "x", "started_from": "yesterday",
                                                        "status": "sleeping", "page": "garbage"})
        assert bad.status_code == 422 and bad.text.count('class="error"') >= 3
        too_large = await browser.get("/console/processes", params={"record": "99999999999"})
        assert too_large.status_code == 422 and "no such number: too large" in too_large.text
        forged_page = await browser.get("/console/processes", params={"page": "Zm9v"})
        assert forged_page.status_code == 422 and "out of date" in forged_page.text

        # odd addresses are answered, never with a 500
        for odd in ("/console/records/99999999999999999999", "/console/records/2147483648",
                    "/console/processes/" + "x" * 300, "/console/processes/%00", "/console/templates/NOPE",
                    f"/console/templates/{key}?version=99&from=1&to=abc", "/console/outbox?status=nope&offset=-1",
                    "/console/records?kind=nope&offset=99999999999", "/console/processes?owner=99999999999",
                    # digits that are not 0-9 (isdigit takes them; int refuses ² and reads １２)
                    "/console/processes?owner=²", "/console/processes?record=１２", "/console/records?offset=²",
                    f"/console/templates/{key}?version=²", "/console/board?owner=²"):
            answered = await browser.get(odd)
            assert answered.status_code < 500, (odd, answered.status_code, answered.text[:300])
        owner_squared = await browser.post(f"{url}/owner", data={"csrf_token": token, "owner_id": "²"})
        assert owner_squared.status_code == 422, owner_squared.text[:300]
        nothing_ticked = await browser.post("/console/incidents/retry", data={"csrf_token": token})
        assert nothing_ticked.status_code == 422 and "tick the processes to retry" in nothing_ticked.text
        for odd in ("/console/tasks/99999999999999999999/complete", "/console/tasks/2147483648/complete",
                    f"{url}/nothing"):
            answered = await browser.post(odd, data={"csrf_token": token})
            assert answered.status_code < 500, (odd, answered.status_code, answered.text[:300])

        # staff may not save templates
        editor = await browser.post("/console/template-editor", data={"csrf_token": token, "source": "key: x"})
        assert editor.status_code == 403

        # the manual phase completes from its form, with answers; answers that are not `name: value` are refused
        bad_answers = await browser.post(f"{url}/complete", data={"csrf_token": token, "phase": "two",
                                                                   "answers": "just text"})
        assert bad_answers.status_code == 422 and "line 1" in bad_answers.text
        completed = await browser.post(f"{url}/complete", data={"csrf_token": token, "phase": "two",
                                                                 "answers": "rooms: 4\nagreed: true"})
        assert completed.status_code == 303, completed.text
        await eventually(lambda: _current(stack, workflow_id, "three"), what="phase three runs")
        assert (await stack.http.get(f"/processes/{workflow_id}", headers=admin)).json()["answers"] == \
            {"rooms": 4, "agreed": True}

        # the owner changes from the form
        owner = await browser.post(f"{url}/owner", data={"csrf_token": token, "owner_id": str(other.user.id)})
        assert owner.status_code == 303
        assert (await stack.http.get(f"/processes/{workflow_id}", headers=admin)).json()["owner_id"] == other.user.id

        # a session past its expiry opens nothing
        async with sessions() as session:
            await session.exec(update(StaffSession).where(col(StaffSession.user_id) == other.user.id)
                               .values(expires_at=utcnow() - timedelta(seconds=1)))
            await session.commit()
        expired = await browser.get("/console")
        assert expired.status_code == 303 and expired.headers["location"].startswith("/console/sign-in")

    # a guesser trying many users from one address is slowed down too (then its failures are cleared, for the
    # tests after this one, which sign in from the same address)
    async with httpx.AsyncClient(base_url=base, timeout=30) as sprayer:
        for n in range(MAX_ADDRESS_FAILURES):
            tried = await sign_in_async(sprayer, f"nobody-{n}-{key}", "a wrong password!")
            if tried.status_code == 429:
                break
        refused = await sign_in_async(sprayer, other.user.handle, other.password)
        assert refused.status_code == 429, refused.text
    async with sessions() as session:
        await session.exec(delete(SignInFailure))
        await session.commit()


def _idempotency_key(page: httpx.Response) -> str:
    marker = 'name="idempotency_key" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start:page.text.index('"', start)]


async def _current(stack: Stack, workflow_id: str, phase: str) -> bool:
    state = (await stack.http.get(f"/processes/{workflow_id}", headers=stack.as_("admin"))).json()
    return state.get("current_phase") == phase


async def test_a_form_over_the_size_limit_gets_the_consoles_page(stack: Stack, sessions: Any) -> None:
    """A console form over MAX_BODY_BYTES answered the API's problem+json ("PayloadTooLarge ... MAX_BODY_BYTES"), in
    a browser; declared too long, or found so as it is read (sent without its length)"""
    staff = await staff_user(sessions)
    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=60) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        token = csrf_token(await browser.get("/console/tasks"))
        body = f"csrf_token={token}&title=" + "x" * 2_000_000

        async def streamed() -> Any:  # no Content-Length: the limit is found as the body is read
            for n in range(0, len(body), 65536):
                yield body[n:n + 65536].encode()

        for content in (body.encode(), streamed()):
            answer = await browser.post("/console/tasks", content=content,
                                        headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert answer.status_code == 413 and answer.headers["content-type"].startswith("text/html"), answer.text
            assert "nothing was done: it is larger than 1,000,000 bytes (send a smaller file" in answer.text, answer.text[answer.text.find("<main"):].replace("\n", " ")[:700]
    api = await stack.http.post("/tasks", headers=stack.as_("staff"), content=b"x" * 2_000_000)
    assert api.status_code == 413 and api.json()["type"] == "PayloadTooLarge"  # the API's own answer stays
