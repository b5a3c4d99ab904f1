"""Tags in the console (an office had to use the API to rename, merge or delete one): the list with the cases each
carries, a tag added, renamed on every case, merged into another and deleted; a rename to another tag's name is
refused and says to merge, in the office's language; a tag only on cases the user does not see is not found."""

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


async def _case(stack: Stack, name: str, tags: list[str], **more: Any) -> dict[str, Any]:
    made = await stack.http.post("/cases", headers=stack.as_("admin"), json={"name": name, "tags": tags, **more})
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def _tags_of(stack: Stack, case_id: int) -> list[str]:
    return sorted((await stack.http.get(f"/cases/{case_id}", headers=stack.as_("admin"))).json()["tags"])


async def test_a_tag_added_renamed_merged_and_deleted(stack: Stack, sessions: Any) -> None:
    staff = await staff_user(sessions)
    tag = uuid.uuid4().hex[:6]
    urgent, call_back = f"Urgente {tag}", f"Da richiamare {tag}"
    case = await _case(stack, f"Sinistro {tag}", [urgent, call_back])
    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        assert 'href="/console/tags"' in (await browser.get("/console/cases")).text
        listed = await browser.get("/console/tags", params={"q": tag.upper()})
        assert listed.status_code == 200 and urgent in listed.text and call_back in listed.text
        assert f'href="/console/cases?tag=Urgente%20{tag}">1</a>' in listed.text
        token = csrf_token(listed)

        twice = await browser.post("/console/tags", data={"csrf_token": token, "name": f"urgente {tag}"})
        assert twice.status_code == 409 and "merge into it instead" in html.unescape(twice.text)
        added = await browser.post("/console/tags", data={"csrf_token": token, "name": f"Nuova {tag}"})
        assert added.status_code == 303 and added.headers["location"].endswith("?done=tag_added")
        new_url = added.headers["location"].split("?")[0]
        assert "The tag was added." in (await browser.get(added.headers["location"])).text

        tags = {t["name"]: t["id"] for t in (await stack.http.get(
            "/tags", headers=stack.as_("admin"), params={"q": tag})).json()}
        urgent_url = f"/console/tags/{tags[urgent]}"
        taken = await browser.post(urgent_url, data={"csrf_token": token, "form": "rename", "name": call_back.upper()})
        assert taken.status_code == 409 and "merge into it instead" in html.unescape(taken.text)
        assert f'value="{call_back.upper()}"' in taken.text  # kept as typed
        spaces = await browser.post(urgent_url, data={"csrf_token": token, "form": "rename", "name": "   "})
        assert spaces.status_code == 422 and "Name:" in spaces.text
        renamed = await browser.post(urgent_url, data={"csrf_token": token, "form": "rename",
                                                       "name": f"Urgentissimo {tag}"})
        assert renamed.status_code == 303, renamed.text
        assert await _tags_of(stack, case["id"]) == sorted([f"Urgentissimo {tag}", call_back])

        unchosen = await browser.post(f"/console/tags/{tags[call_back]}", data={"csrf_token": token, "form": "merge"})
        assert unchosen.status_code == 422 and "choose the tag to merge it into" in unchosen.text
        itself = await browser.post(f"/console/tags/{tags[call_back]}", data={
            "csrf_token": token, "form": "merge", "into": str(tags[call_back])})
        assert itself.status_code == 409
        merged = await browser.post(f"/console/tags/{tags[call_back]}", data={
            "csrf_token": token, "form": "merge", "into": str(tags[urgent])})
        assert merged.status_code == 303 and merged.headers["location"] == f"{urgent_url}?done=tag_merged"
        assert await _tags_of(stack, case["id"]) == [f"Urgentissimo {tag}"]
        assert (await browser.get(f"/console/tags/{tags[call_back]}")).status_code == 404

        unticked = await browser.post(urgent_url, data={"csrf_token": token, "form": "delete"})
        assert unticked.status_code == 422 and await _tags_of(stack, case["id"]) == [f"Urgentissimo {tag}"]
        deleted = await browser.post(urgent_url, data={"csrf_token": token, "form": "delete", "confirm": "1"})
        assert deleted.status_code == 303 and deleted.headers["location"] == "/console/tags?done=tag_deleted"
        assert await _tags_of(stack, case["id"]) == []
        history = (await stack.http.get(f"/records/{case['id']}/history", headers=stack.as_("admin"))).json()
        assert len([h for h in history if h["kind"] == "tags_changed"]) == 4  # made with them, renamed, merged, deleted
        assert (await browser.post(new_url, data={"csrf_token": token, "form": "other"})).status_code == 400
        assert (await browser.get(f"{new_url}/x", follow_redirects=False)).status_code in (303, 404)


@pytest.mark.parametrize("stack", ["it"], indirect=True)
async def test_a_tag_on_cases_the_user_does_not_see(stack: Stack, sessions: Any) -> None:
    staff = await staff_user(sessions)
    tag = uuid.uuid4().hex[:6]
    hidden, shared = f"Riservata {tag}", f"Condivisa {tag}"
    await _case(stack, f"Segreta {tag}", [hidden, shared], restricted=True)
    await _case(stack, f"Aperta {tag}", [shared])
    tags = {t["name"]: t["id"] for t in (await stack.http.get(
        "/tags", headers=stack.as_("admin"), params={"q": tag})).json()}
    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        listed = await browser.get("/console/tags", params={"q": tag})
        assert "<h1>Etichette</h1>" in listed.text and hidden not in listed.text and shared in listed.text
        assert (await browser.get(f"/console/tags/{tags[hidden]}")).status_code == 404
        refused = await browser.post(f"/console/tags/{tags[shared]}", data={
            "csrf_token": csrf_token(listed), "form": "delete", "confirm": "1"})
        assert refused.status_code == 403
        assert (f"l'etichetta '{shared}' è anche su pratiche che non vedi: può modificarla un amministratore"
                in html.unescape(refused.text))
        taken = await browser.post("/console/tags", data={"csrf_token": csrf_token(listed), "name": hidden.lower()})
        assert taken.status_code == 409 and "su pratiche che non vedi" in html.unescape(taken.text)
