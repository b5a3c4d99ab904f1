"""Pipelines in the console (an office had to save them with `stagecoach pipelines apply`): the list, a version, and
the YAML editor (admins), its errors at their lines, a status left out with records in it refused until `remap:`
says where they go."""

from __future__ import annotations

import html
import uuid
from typing import Any

import httpx
import pytest

from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

PIPELINE = """# the installations
key: {key}
name: Impianti {key}
record_kind: job
controller_email: controller@agency.example
types: [{{name: Impianto {key}}}]
statuses:
  - name: Sopralluogo
  - name: Preventivo
{more}"""


async def test_an_admin_writes_a_pipeline_in_the_console(stack: Stack, sessions: Any) -> None:
    admin_user = await staff_user(sessions, "Anna Admin", role="admin")
    staff = await staff_user(sessions)
    key = f"impianti-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, admin_user.user.handle, admin_user.password)).status_code == 303
        token = csrf_token(await browser.get("/console/pipeline-editor"))
        wrong = await browser.post("/console/pipeline-editor", data={
            "csrf_token": token, "source": PIPELINE.format(key=key, more="  - name: Chiuso\n    colour: red\n")})
        assert wrong.status_code == 422 and "Line 11" in wrong.text and "unknown field" in wrong.text
        saved = await browser.post("/console/pipeline-editor", data={
            "csrf_token": token, "source": PIPELINE.format(key=key, more="  - name: Chiuso\n")})
        assert saved.status_code == 303 and saved.headers["location"] == f"/console/pipelines/{key}?version=1&saved=new"
        shown = html.unescape((await browser.get(saved.headers["location"])).text)
        assert "Saved as version 1." in shown and "Sopralluogo → Preventivo → Chiuso" in shown
        assert key in (await browser.get("/console/pipelines")).text

        record = (await stack.http.post("/records", headers=stack.as_("admin"), json={
            "kind": "job", "title": f"Tetto {key}", "type": f"Impianto {key}"})).json()
        await stack.http.patch(f"/records/{record['id']}", headers=stack.as_("admin"), json={"status": "Chiuso"})
        left_out = PIPELINE.format(key=key, more="")
        refused = await browser.post("/console/pipeline-editor", data={"csrf_token": token, "source": left_out})
        assert refused.status_code == 422 and "Chiuso" in html.unescape(refused.text)
        assert (await stack.http.get(f"/records/{record['id']}", headers=stack.as_("admin"))).json()["status"] \
            == "Chiuso"
        remapped = await browser.post("/console/pipeline-editor", data={
            "csrf_token": token, "source": left_out + "remap: {Chiuso: Preventivo}\n"})
        assert remapped.status_code == 303 and "version=2" in remapped.headers["location"]
        assert (await stack.http.get(f"/records/{record['id']}", headers=stack.as_("admin"))).json()["status"] \
            == "Preventivo"

    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        token = csrf_token(await browser.get(f"/console/pipelines/{key}"))
        refused = await browser.post("/console/pipeline-editor", data={"csrf_token": token, "source": left_out})
        assert refused.status_code == 403 and "Only an admin saves pipelines" in refused.text
