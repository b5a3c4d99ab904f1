"""/docs and /redoc load every asset from the API itself (they work without internet); `/` sends a browser to the console."""

from __future__ import annotations

import re

import pytest

from tests.bad_input.conftest import Api


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_docs_need_nothing_from_outside(api: Api) -> None:
    """The documentation pages load only assets the API serves, and each of them answers"""
    home = await api.http.get("/", follow_redirects=False)
    assert home.status_code in (302, 307) and home.headers["location"] == "/console"
    for page, expected in (("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
                           ("/redoc", {"redoc.standalone.js", "favicon.png"})):
        response = await api.http.get(page)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", response.text)
        outside = [url for url in urls if "://" in url or url.startswith("//")]
        assert not outside, f"{page} loads from outside: {outside}"
        assets = [url for url in urls if url.startswith("/docs-assets/")]
        assert {url.rsplit("/", 1)[-1] for url in assets} == expected, urls
        for url in assets:
            asset = await api.http.get(url)
            assert asset.status_code == 200 and len(asset.content) > 1000, url
    openapi = await api.http.get("/openapi.json")
    assert openapi.status_code == 200
