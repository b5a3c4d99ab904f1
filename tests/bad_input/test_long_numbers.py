"""A number of thousands of digits in a template, a pipeline or a request template: past Python's 4,300 digits a
request template answered 500 and the others 503 ("RenderInterrupted: ValueError: Exceeds the limit..."), which
said to send it again. Each is now a 422 saying where, in YAML and JSON alike, hex too; nothing is saved."""

from __future__ import annotations

import pytest

from tests.bad_input.conftest import Api

HUGE = "9" * 5000


@pytest.mark.parametrize("route", ["/templates", "/templates/validate", "/pipelines", "/pipelines/validate",
                                   "/client-request-templates", "/client-request-templates/validate"])
async def test_a_number_of_thousands_of_digits_is_a_422_saying_where(api: Api, route: str) -> None:
    admin = api.as_("admin")
    for body, content_type in ((f"key: huge\nname: H\ndeadline_days: {HUGE}\n", "application/yaml"),
                               (f"key: huge\nname: H\ndeadline_days: 0x{'f' * 5000}\n", "application/yaml"),
                               (f'{{"key": "huge", "title": "T", "x": {HUGE}}}', "application/json")):
        response = await api.http.post(route, content=body, headers={**admin, "Content-Type": content_type})
        assert response.status_code == 422, (route, body[:40], response.status_code, response.text[:300])
        assert "a number of more than 100 digits" in response.text, response.text[:300]
        assert "Exceeds the limit" not in response.text
    listed = await api.http.get(route.removesuffix("/validate"), headers=admin)
    assert "huge" not in [item["key"] for item in listed.json()]
