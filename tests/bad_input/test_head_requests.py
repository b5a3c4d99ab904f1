"""HEAD is answered as GET is, without the body (RFC 9110 §9.3.2), in process and served by uvicorn: a monitor's
`curl -I /readyz` got 405. A key is still asked for first, and a 405 names HEAD beside GET in `Allow`."""

from __future__ import annotations

from tests.bad_input.conftest import Api


async def test_head_answers_as_get_without_its_body(api: Api) -> None:
    await _as_get(api)


async def test_head_answers_as_get_without_its_body_served_by_uvicorn(served_api: Api) -> None:
    await _as_get(served_api)


async def _as_get(api: Api) -> None:
    for path, headers in (("/readyz", {}), ("/console/sign-in", {}), ("/records?limit=1", api.as_("staff")),
                          ("/docs", {})):
        got, head = [await api.http.request(method, path, headers=headers) for method in ("GET", "HEAD")]
        assert (head.status_code, head.content) == (got.status_code, b""), (path, head.status_code)
        assert got.status_code == 200 and got.content, path
        assert head.headers["content-type"] == got.headers["content-type"], path
        if "content-length" in got.headers:
            assert head.headers["content-length"] == got.headers["content-length"], path
    refused = await api.http.head("/records")  # no key: refused before anything is read, as a GET is
    assert refused.status_code == 401 and refused.content == b""
    wrong = await api.http.put("/readyz")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD"
