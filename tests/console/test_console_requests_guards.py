"""What a browser would not send to the client requests' console pages, sent over HTTP: forms without their token
or from no one signed in, a cancel not confirmed, an expiry or a number that cannot be one, a record without an
address, a request of a hidden record, a request template with mistakes (each shown at its path and line) or
saved by staff. Each is refused with the API's message on the page and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import select

from crm.client_requests.models import ClientRequest, RequestStatus
from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async
from tests.e2e.conftest import Stack
from tests.e2e.test_client_requests_over_http import setup

pytestmark = pytest.mark.e2e

BROKEN = """key: broken-{tag}
title: Broken
questions:
  - {{key: a, type: text, label: A}}
  - {{key: a, type: choice, label: B, options: [only]}}
"""


async def test_the_requests_pages_refuse_what_they_must(stack: Stack, sessions: Any) -> None:
    """Forged, anonymous, unconfirmed and wrong forms; hidden records and requests; template mistakes at their line"""
    tag, admin, owner = await setup(stack)
    template = f"docs-{tag}"
    staff = await staff_user(sessions, "Sara Galli")
    boss = await staff_user(sessions, "Marco Neri", role="admin")
    job = (await stack.http.post("/records", headers=admin, json={
        "kind": "job", "title": f"730 {tag}", "email": f"c{tag}@example.org", "owner_id": owner["id"]})).json()
    mute = (await stack.http.post("/records", headers=admin, json={"kind": "job", "title": f"No address {tag}"})).json()
    hidden = (await stack.http.post("/records", headers=admin, json={
        "kind": "job", "title": f"Hidden {tag}", "email": f"h{tag}@example.org", "owner_id": owner["id"],
        "restricted": True})).json()
    hidden_request = (await stack.http.post(f"/records/{hidden['id']}/client-requests", headers=admin,
                                            json={"template": template})).json()["id"]
    pending = (await stack.http.post(f"/records/{job['id']}/client-requests", headers=admin,
                                     json={"template": template})).json()["id"]
    base = str(stack.http.base_url)

    async with httpx.AsyncClient(base_url=base, timeout=30) as anonymous:
        posted = await anonymous.post(f"/console/client-requests/{pending}/cancel", data={"confirm": "1"})
        assert posted.status_code == 303 and posted.headers["location"].startswith("/console/sign-in")

    async with httpx.AsyncClient(base_url=base, timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        page = await browser.get(f"/console/records/{job['id']}")
        assert page.status_code == 200 and f"Resend request #{pending}" in page.text
        token = csrf_token(page)
        forged = await browser.post(f"/console/client-requests/{pending}/cancel", data={"confirm": "1"})
        assert forged.status_code == 403
        on_record = {"csrf_token": token, "from": "record", "record": str(job["id"])}
        unconfirmed = await browser.post(f"/console/client-requests/{pending}/cancel", data=on_record)
        assert unconfirmed.status_code == 422 and f'id="request-error-{pending}"' in unconfirmed.text
        assert "confirm" in unconfirmed.text
        said = "Expires after: a whole number of days from 1 to 3650"
        for days in ("abc", "0", "99999"):
            sent = await browser.post(f"/console/records/{job['id']}/client-requests",
                                      data={"csrf_token": token, "template": template, "expires_days": days})
            assert sent.status_code == 422 and 'id="send-request-error"' in sent.text and said in sent.text, days
        no_template = await browser.post(f"/console/records/{job['id']}/client-requests",
                                         data={"csrf_token": token, "template": "nope"})
        assert no_template.status_code == 422 and "no request template &#39;nope&#39;" in no_template.text
        no_address = await browser.post(f"/console/records/{mute['id']}/client-requests",
                                        data={"csrf_token": token, "template": template})
        assert no_address.status_code == 422 and 'id="send-request-error"' in no_address.text
        # the refusal's page listed the request it did not make, with working resend and cancel buttons: they acted
        # on whatever request later took its number
        assert 'id="client-requests"' not in no_address.text, no_address.text
        # a request of a record they may not see is "no client request", on every page and action
        assert (await browser.get(f"/console/client-requests/{hidden_request}")).status_code == 404
        listed = await browser.get("/console/client-requests", params={"contact_email": f"h{tag}@example.org"})
        assert listed.status_code == 200 and f"Hidden {tag}" not in listed.text
        for action in ("cancel", "resend", "link"):
            refused = await browser.post(f"/console/client-requests/{hidden_request}/{action}",
                                         data={"csrf_token": token, "confirm": "1", "record_id": str(job["id"])})
            assert refused.status_code == 404 and f"no client request {hidden_request}" in refused.text, action
        linked = await browser.post(f"/console/records/{job['id']}/client-requests/link",
                                    data={"csrf_token": token, "request_id": str(hidden_request)})
        assert linked.status_code == 404 and 'id="link-request-error"' in linked.text
        for number in ("x", "0", "99999999999"):
            odd = await browser.post(f"/console/records/{job['id']}/client-requests/link",
                                     data={"csrf_token": token, "request_id": number})
            assert odd.status_code == 422 and "write the request" in odd.text, number
        for odd_url in ("/console/client-requests/99999999999", "/console/client-requests?status=nope&offset=-4",
                        "/console/request-templates/NOPE", f"/console/request-templates/{template}?version=99"):
            answered = await browser.get(odd_url)
            assert answered.status_code < 500, (odd_url, answered.status_code)
        odd_action = await browser.post(f"/console/client-requests/{pending}/delete", data={"csrf_token": token})
        assert odd_action.status_code == 404
        # staff read templates, and may not save them
        assert "Certificazione Unica" in (await browser.get(f"/console/request-templates/{template}")).text
        saved = await browser.post("/console/request-template-editor",
                                   data={"csrf_token": token, "source": BROKEN.format(tag=tag)})
        assert saved.status_code == 403 and "Only an admin" in saved.text
    async with sessions() as session:
        kept = await session.get(ClientRequest, pending)
        assert kept is not None and kept.status is RequestStatus.pending and kept.record_id == job["id"]
        assert (await session.get(ClientRequest, hidden_request)).status is RequestStatus.pending  # type: ignore[union-attr]

    async with httpx.AsyncClient(base_url=base, timeout=30) as browser:
        assert (await sign_in_async(browser, boss.user.handle, boss.password)).status_code == 303
        token = csrf_token(await browser.get("/console/request-template-editor"))
        wrong = await browser.post("/console/request-template-editor",
                                   data={"csrf_token": token, "source": BROKEN.format(tag=tag)})
        assert wrong.status_code == 422
        assert "Line 5</a>: <code>questions[1].key</code>" in wrong.text
        assert "Line 5</a>: <code>questions[1].options</code>" in wrong.text
        right = await browser.post("/console/request-template-editor", data={
            "csrf_token": token, "source": BROKEN.format(tag=tag).replace("key: a, type: choice", "key: b, type: choice")
            .replace("[only]", "[one, two]")})
        assert right.status_code == 303 and right.headers["location"].endswith("?version=1&saved=new"), right.text
        shown = await browser.get(right.headers["location"])
        assert "Saved as version 1." in shown.text and "one, two" in shown.text


async def test_a_request_is_sent_to_the_address_and_in_the_language_chosen(stack: Stack, sessions: Any) -> None:
    """The form had no address or language: a record without an address could get no request from the console, and
    a request went in the template's language whatever the client's. A wrong address is said and kept in the form."""
    tag, admin, owner = await setup(stack)
    template = f"docs-{tag}"
    staff = await staff_user(sessions, "Sara Galli")
    mute = (await stack.http.post("/records", headers=admin, json={
        "kind": "job", "title": f"No address {tag}", "owner_id": owner["id"]})).json()
    base = str(stack.http.base_url)
    async with httpx.AsyncClient(base_url=base, timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        page = await browser.get(f"/console/records/{mute['id']}")
        assert "this record has no address (nor a contact with one): give one" in page.text
        assert '<label for="request-to">Send to</label>' in page.text  # not "(optional)": it is needed here
        assert '<option value="it" lang="it">Italiano</option>' in page.text
        token = csrf_token(page)
        url = f"/console/records/{mute['id']}/client-requests"
        for address, language, said in (("not-an-address", "", "Send to: an email address, such as name@example.com"),
                                         (f"c{tag}@example.org", "xx-!", "Language: one of the languages listed")):
            refused = await browser.post(url, data={"csrf_token": token, "template": template,
                                                    "contact_email": address, "language": language})
            assert refused.status_code == 422 and said in refused.text, refused.text
            assert f'value="{address}"' in refused.text  # what was typed is kept
        sent = await browser.post(url, data={"csrf_token": token, "template": template,
                                             "contact_email": f"c{tag}@example.org", "language": "it"})
        assert sent.status_code == 303, sent.text
    async with sessions() as session:
        [request] = (await session.exec(select(ClientRequest).where(ClientRequest.record_id == mute["id"]))).all()
    assert (request.contact_email, request.language) == (f"c{tag}@example.org", "it")
    async with httpx.AsyncClient(base_url=base, timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        shown = await browser.get(f"/console/client-requests/{request.id}")
        assert "<dt>Language</dt><dd>Italian</dd>" in shown.text  # its name, not the code `it`
