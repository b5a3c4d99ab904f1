"""`stagecoach admin`: what an operator runs on the database itself, before any API key exists.

A fresh deployment has no key, and `POST /api-keys` needs an admin key: `create-key` makes the first one
(docker-compose.yml's migrate job runs it with the key file given as a Docker secret). `set-password` gives
a user a password for the staff console (and makes them a console admin with `--role admin`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel import select

from api.auth import active_admin_keys, generate_key, hash_key, store_key
from cli.common import JsonOpt, out
from crm.db import make_engine, make_sessionmaker
from crm.migrate import upgrade_database
from crm.models import ApiKey, ApiRole, User
from crm.staff_sessions import PasswordRefused, set_password
from settings import get_settings

admin_app = typer.Typer(help="Operator commands run on Stagecoach's database directly.", no_args_is_help=True)

MIN_KEY_LENGTH = 32  # what `generate_key` makes is 46 characters


@admin_app.command()
def migrate(as_json: JsonOpt = False) -> None:
    """Bring the database to the newest schema (alembic upgrade head): once per deployment, before the rest."""
    upgrade_database(get_settings().database_url)
    out({"schema": "current"}, as_json, "database schema is current")


def _read_key(path: Path) -> str:
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        typer.echo(f"--key-file {path}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    if len(key) < MIN_KEY_LENGTH or any(c.isspace() for c in key):
        typer.echo(f"--key-file {path}: a key is one line of at least {MIN_KEY_LENGTH} characters without "
                   "spaces (make one with `openssl rand -base64 36`)", err=True)
        raise typer.Exit(2)
    return key


async def _create(name: str, role: ApiRole, key_file: Path | None,
                  if_no_admin: bool) -> tuple[str, dict[str, Any]]:
    """What to say, and the same as data (`--json`): the key itself only when it was generated here."""
    key = _read_key(key_file) if key_file else generate_key()
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            existing = (await session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))).first()
            if existing is not None:  # the migrate job ran before with the same secret: a revoked key stays revoked
                state = "revoked" if existing.revoked_at else "active"
                return (f"the key in {key_file} is stored already (API key {existing.id}, {state}); nothing changed",
                        {"created": False, "id": existing.id, "state": state})
            if if_no_admin and await active_admin_keys(session):
                return "an admin key exists already; nothing created", {"created": False}
            row = await store_key(session, name, role, key)
    finally:
        await engine.dispose()
    created = {"created": True, "id": row.id, "role": role.value}
    if key_file:
        return f"API key {row.id} ({role.value}) created from {key_file}", created
    return (f"API key {row.id} ({role.value}) created; it is shown this once, keep it now:\n{key}",
            {**created, "key": key})


@admin_app.command("create-key")
def create_key(
        name: Annotated[str, typer.Option(help="what the key is for, shown in GET /api-keys")] = "bootstrap admin",
        role: Annotated[ApiRole, typer.Option(help="client, staff or admin")] = ApiRole.admin,
        key_file: Annotated[Path | None, typer.Option(
            help="take the key from this file (a Docker secret) instead of generating one; only its hash is "
                 "kept")] = None,
        if_no_admin: Annotated[bool, typer.Option(
            "--if-no-admin", help="do nothing when an admin key that is not revoked exists")] = False,
        as_json: JsonOpt = False) -> None:
    """Create an API key on the database directly (the first admin key of a deployment)."""
    text, data = asyncio.run(_create(name, role, key_file, if_no_admin))
    out(data, as_json, text)


async def _set_password(handle: str, password: str, role: str | None) -> dict[str, Any]:
    engine = make_engine(get_settings().database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            user = (await session.exec(select(User).where(User.handle == handle))).first()
            if user is None:
                typer.echo(f"no user '{handle}' (stagecoach users list shows them)", err=True)
                raise typer.Exit(2)
            try:
                await set_password(session, user, password, role)
            except PasswordRefused as exc:
                typer.echo(str(exc), err=True)
                raise typer.Exit(2) from None
            return {"user": user.handle, "id": user.id, "console_role": user.console_role}
    finally:
        await engine.dispose()


@admin_app.command("set-password")
def set_password_command(
        handle: Annotated[str, typer.Argument(help="the user's handle")],
        password_file: Annotated[Path | None, typer.Option(
            help="read the password from this file (its first line) instead of asking for it")] = None,
        role: Annotated[str | None, typer.Option(help="their console role: staff or admin (unchanged when not given)")] = None,
        as_json: JsonOpt = False) -> None:
    """Set a user's console password (and role): they sign in at /console. Their open sessions end."""
    if role is not None and role not in ("staff", "admin"):
        typer.echo("--role is staff or admin", err=True)
        raise typer.Exit(2)
    if password_file is not None:
        try:
            password = password_file.read_text(encoding="utf-8").splitlines()[0] if password_file.stat().st_size else ""
        except OSError as exc:
            typer.echo(f"--password-file {password_file}: {exc.strerror or exc}", err=True)
            raise typer.Exit(2) from None
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    data = asyncio.run(_set_password(handle, password, role))
    out(data, as_json, f"password set for {data['user']} (console role {data['console_role']}); "
                       "their earlier sessions are signed out")
