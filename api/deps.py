"""FastAPI dependencies: settings, the database session, the Temporal client, the render pool, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.admission import needs
from api.auth import Principal
from crm.models import ApiRole
from renderer.pool import RenderPool
from settings import Settings


# The dependencies are coroutines: FastAPI runs a plain function in its thread pool, a hop each per request.
async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


async def get_temporal(request: Request) -> Client:
    return request.app.state.temporal


async def get_renderer(request: Request) -> RenderPool:
    return request.app.state.renderer


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
RendererDep = Annotated[RenderPool, Depends(get_renderer)]

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key")
_bearer = HTTPBearer(auto_error=False, description="an API key as a bearer token")


async def get_principal(
    request: Request,
    api_key: Annotated[str | None, Security(_api_key_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Principal:
    """The caller, as api.admission found it before the body was read (looked up here only without it)."""
    if isinstance(found := getattr(request.state, "principal", None), Principal):
        return found
    key = api_key or (bearer.credentials if bearer else None)
    if not key:
        raise HTTPException(401, "an API key is required (X-API-Key header or Authorization: Bearer)",
                            headers={"WWW-Authenticate": "Bearer"})
    principal = await request.app.state.api_keys.principal(request.app.state.sessions, key)
    if principal is None:
        raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    return principal


def require(role: ApiRole) -> Callable[..., Principal]:
    @needs(role)  # api.admission checks it before the body is read
    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.has(role):
            raise HTTPException(403, f"this needs the {role.value} role; the key has {principal.role.value}")
        return principal

    return check


ClientDep = Annotated[Principal, Depends(require(ApiRole.client))]
StaffDep = Annotated[Principal, Depends(require(ApiRole.staff))]
AdminDep = Annotated[Principal, Depends(require(ApiRole.admin))]
