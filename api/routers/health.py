"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import SessionDep, TemporalDep
from workflows.client import temporal_unready

router = APIRouter(tags=["health"])

TEMPORAL_WITHIN = 2.0  # seconds: the compose file's probe gives /readyz 3


@router.get("/livez")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(session: SessionDep, temporal: TemporalDep) -> JSONResponse:
    """Ready when the database and Temporal both answer."""
    checks: dict[str, str] = {}
    try:
        await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready
        checks["database"] = f"unreachable: {type(exc).__name__}"
    why = await temporal_unready(temporal, TEMPORAL_WITHIN)
    checks["temporal"] = "ok" if why is None else f"unreachable: {why}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)
