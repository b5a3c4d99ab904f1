"""A user's handle is how templates (`{user: maria}`), imports (the `owner` column) and the console's sign-in name
them: it was declared with `regex=`, which pydantic 2 ignores, so "", "Maria", "maria " and markup were all saved."""

from __future__ import annotations

import uuid

from tests.bad_input.conftest import Api


async def test_a_handle_that_is_not_a_lower_case_name_is_refused(api: Api) -> None:
    """POST /users with an empty, capitalised, spaced, marked-up or non-ASCII handle: 422 body.handle, no user"""
    admin = api.as_("admin")
    tag = uuid.uuid4().hex[:8]
    wrong = []
    for handle in ("", f"Maria{tag}", f"maria{tag} ", f"ma ria{tag}", "<script>x</script>", f"1abc{tag}",
                   f"é{tag}", f"a\u0000b{tag}"):
        response = await api.http.post("/users", headers=admin, json={
            "handle": handle, "name": "Nadia", "email": f"h{tag}@agency.example"})
        if response.status_code != 422 or [e["path"] for e in response.json().get("errors", [])] != ["body.handle"]:
            wrong.append(f"{handle!r}: {response.status_code} {response.text[:200]}")
    assert not wrong, "\n".join(wrong)
    handles = {user["handle"] for user in (await api.http.get("/users", headers=admin)).json()}
    assert not any(tag in handle for handle in handles), handles
    made = await api.http.post("/users", headers=admin, json={
        "handle": f"maria-{tag}_2", "name": "Maria", "email": f"m{tag}@agency.example"})
    assert made.status_code == 201, made.text
