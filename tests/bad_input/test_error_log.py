"""An unexpected error in the API served by uvicorn is one JSON log line with its traceback, and a problem+json 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.figures import Figures
from tests.serving import api_process


async def test_a_500_is_one_json_log_line(dev_env: Any, tmp_path: Path, figures: Figures) -> None:
    """A 500 is logged once, as one JSON line with the traceback inside it; every line the API writes is JSON"""
    # a database without its tables: looking up any key fails, an error no handler expects
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'unmigrated.db'}",
           "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host, "LOG_LEVEL": "INFO", "LOG_JSON": "true"}
    async with api_process(env, tmp_path / "api.log") as served, \
            httpx.AsyncClient(base_url=served.base_url, timeout=30) as http:
        response = await http.get("/records", headers={"X-API-Key": "sc_some-key"})
        assert response.status_code == 500, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "InternalError" and "api_key" not in response.text  # nothing leaks
    lines = [line for line in served.lines() if line.strip()]
    not_json = []
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            not_json.append(line)
    errors = [json.loads(line) for line in lines if line not in not_json and "Traceback" in line]
    figures["lines the API wrote"] = len(lines)
    figures["lines that are not JSON"] = len(not_json)
    figures["lines with the traceback"] = len(errors)
    assert not not_json, "\n".join(not_json[:20])
    assert len(errors) == 1, errors
    error = errors[0]
    assert error["event"] == "unhandled error" and error["level"] == "error"
    assert error["path"] == "/records" and error["method"] == "GET"
    assert "no such table: api_key" in error["exception"]
