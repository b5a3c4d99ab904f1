"""`stagecoach admin set-password`: an operator gives a user their console password (and role) on the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from crm.models import User
from crm.staff_sessions import check_password, open_session, signed_in
from tests.factories import Factory

STAGECOACH = Path(sys.executable).parent / "stagecoach"


def _run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([str(STAGECOACH), "admin", "set-password", *args], env=env, capture_output=True,
                          text=True, timeout=60)


async def test_set_password(database_url: str, factory: Factory, sessions: Any, tmp_path: Path) -> None:
    """A password from a file makes a console admin; their sessions end; short passwords and unknown users refused"""
    user = await factory.user("Chiara Conti")
    secret = tmp_path / "password"
    secret.write_text("the first long password\n")
    done = _run(database_url, user.handle, "--password-file", str(secret), "--role", "admin", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"user": user.handle, "id": user.id, "console_role": "admin"}
    async with sessions() as session:
        found = await check_password(session, user.handle, "the first long password")
        assert found is not None and found.console_role == "admin"
        token, _ = await open_session(session, found)
        assert await signed_in(session, token) is not None
        assert await check_password(session, user.handle, "another password") is None

    secret.write_text("the second long password\n")
    assert _run(database_url, user.handle, "--password-file", str(secret)).returncode == 0
    async with sessions() as session:
        assert await signed_in(session, token) is None  # a new password ends every session
        assert (await session.get(User, user.id)).console_role == "admin"  # unchanged without --role

    secret.write_text("short\n")
    short = _run(database_url, user.handle, "--password-file", str(secret))
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    secret.write_text("x" * 1001 + "\n")  # longer than the sign-in form takes: it could never be used
    long = _run(database_url, user.handle, "--password-file", str(secret))
    assert long.returncode == 2 and "at most 1,000 characters" in long.stderr
    unknown = _run(database_url, "nobody-here", "--password-file", str(secret))
    assert unknown.returncode == 2 and "no user 'nobody-here'" in unknown.stderr
    wrong_role = _run(database_url, user.handle, "--password-file", str(secret), "--role", "boss")
    assert wrong_role.returncode == 2 and "staff or admin" in wrong_role.stderr
