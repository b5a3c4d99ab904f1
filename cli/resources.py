"""`stagecoach keys`, `users` and `records`: API keys, CRM users and records from the command line."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.common import JsonOpt, api, call, given, out, pairs, when

keys = typer.Typer(help="API keys: create (shown once), list, revoke. Needs an admin key.", no_args_is_help=True)
users = typer.Typer(help="CRM users: the people processes assign phases and tasks to.", no_args_is_help=True)
records = typer.Typer(help="Records: contacts, leads, opportunities, jobs...", no_args_is_help=True)

Limit = Annotated[int, typer.Option(help="how many, at most")]
Offset = Annotated[int, typer.Option(help="how many to skip")]


# --- keys ---------------------------------------------------------------------------------

def _key_line(key: dict[str, Any]) -> str:
    acting = f" acting as user {key['user_id']}" if key.get("user_id") else ""
    revoked = f"  REVOKED {when(key['revoked_at'])}" if key.get("revoked_at") else ""
    return f"{key['id']:>5}  {key['prefix']}…  {key['role']:<7} {key['name']}{acting}  created {when(key['created_at'])}{revoked}"


@keys.command("list")
def list_keys(limit: Limit = 100, offset: Offset = 0, as_json: JsonOpt = False) -> None:
    """Every API key (only a prefix of each: the key itself is shown once, when it is made)."""
    data = call(api().get, "/api-keys", params={"limit": limit, "offset": offset})
    out(data, as_json, "\n".join(_key_line(k) for k in data) or "no keys")


@keys.command("create")
def create_key(name: str, role: Annotated[str, typer.Option(help="client, staff or admin")] = "staff",
               user_id: Annotated[int | None, typer.Option(help="the staff user the key acts as")] = None,
               as_json: JsonOpt = False) -> None:
    """Make a key; it is printed once, only its hash is kept."""
    data = call(api().post, "/api-keys", json=given(name=name, role=role, user_id=user_id))
    out(data, as_json, f"{data['key']}\n  key {data['id']} ({data['role']}): keep it now, it is not shown again")


@keys.command("revoke")
def revoke_key(key_id: int, as_json: JsonOpt = False) -> None:
    """Revoke a key: it stops working at once."""
    data = call(api().delete, f"/api-keys/{key_id}")
    out(data, as_json, f"key {data['id']} ({data['name']}) revoked {when(data['revoked_at'])}")


# --- users --------------------------------------------------------------------------------

def _user_line(user: dict[str, Any]) -> str:
    return f"{user['id']:>5}  {user['handle']:<16} {user['name']:<24} {user['email']:<32} {user['role']}"


@users.command("list")
def list_users(role: Annotated[str | None, typer.Option(help="only users of this job")] = None,
               limit: Limit = 100, offset: Offset = 0, as_json: JsonOpt = False) -> None:
    """CRM users, oldest first."""
    data = call(api().get, "/users", params=given(role=role, limit=limit, offset=offset))
    out(data, as_json, "\n".join(_user_line(u) for u in data) or "no users")


@users.command("show")
def show_user(user_id: int, as_json: JsonOpt = False) -> None:
    data = call(api().get, f"/users/{user_id}")
    out(data, as_json, f"{_user_line(data)}\n  phone {data.get('phone') or '-'}, since {when(data['created_at'])}")


@users.command("create")
def create_user(handle: str, name: str, email: str, phone: Annotated[str | None, typer.Option()] = None,
                role: Annotated[str | None, typer.Option(help="the user's job: agent, installer...")] = None,
                as_json: JsonOpt = False) -> None:
    """Add a user (needs an admin key)."""
    data = call(api().post, "/users", json=given(handle=handle, name=name, email=email, phone=phone, role=role))
    out(data, as_json, f"user {data['id']}: {data['handle']} ({data['name']})")


@users.command("update")
def update_user(user_id: int, name: Annotated[str | None, typer.Option()] = None,
                email: Annotated[str | None, typer.Option()] = None, phone: Annotated[str | None, typer.Option()] = None,
                role: Annotated[str | None, typer.Option()] = None, as_json: JsonOpt = False) -> None:
    """Change a user's name, email, phone or job (needs an admin key)."""
    data = call(api().patch, f"/users/{user_id}", json=given(name=name, email=email, phone=phone, role=role))
    out(data, as_json, _user_line(data))


# --- records ------------------------------------------------------------------------------

def _record_line(record: dict[str, Any]) -> str:
    lock = " (restricted)" if record.get("restricted") else ""
    owner = f"owner {record['owner_id']}" if record.get("owner_id") else "no owner"
    return f"{record['id']:>6}  {record['kind']:<12} {record['status']:<14} {record['title']}{lock}  {owner}"


def _record_text(record: dict[str, Any]) -> str:
    lines = [_record_line(record)]
    for label in ("type", "email", "phone", "channel", "contact_id"):
        if record.get(label):
            lines.append(f"  {label}: {record[label]}")
    lines += [f"  fields.{name}: {value}" for name, value in (record.get("fields") or {}).items()]
    if record.get("restricted"):
        lines.append(f"  seen by its owner, admins and users {record.get('access_user_ids') or 'none listed'}")
    lines.append(f"  created {when(record['created_at'])}, changed {when(record['updated_at'])}")
    return "\n".join(lines)


RecordOpts = dict[str, Any]


@records.command("list")
def list_records(kind: Annotated[str | None, typer.Option()] = None,
                 status: Annotated[str | None, typer.Option()] = None,
                 owner_id: Annotated[int | None, typer.Option()] = None,
                 q: Annotated[str | None, typer.Option(help="text in the title")] = None,
                 limit: Limit = 100, offset: Offset = 0, as_json: JsonOpt = False) -> None:
    """Records you may see, oldest first."""
    params = given(kind=kind, status=status, owner_id=owner_id, q=q, limit=limit, offset=offset)
    data = call(api().get, "/records", params=params)
    out(data, as_json, "\n".join(_record_line(r) for r in data) or "no records")


@records.command("show")
def show_record(record_id: int, as_json: JsonOpt = False) -> None:
    data = call(api().get, f"/records/{record_id}")
    out(data, as_json, _record_text(data))


Field = Annotated[list[str] | None, typer.Option("--field", help="a free field: NAME=VALUE (repeat it)")]
Access = Annotated[list[int] | None, typer.Option("--access-user-id", help="a user who sees it when restricted")]


@records.command("create")
def create_record(kind: str, title: str, status: Annotated[str | None, typer.Option()] = None,
                  type: Annotated[str | None, typer.Option(help="the type within its kind")] = None,
                  email: Annotated[str | None, typer.Option()] = None, phone: Annotated[str | None, typer.Option()] = None,
                  channel: Annotated[str | None, typer.Option()] = None,
                  owner_id: Annotated[int | None, typer.Option()] = None,
                  contact_id: Annotated[int | None, typer.Option()] = None, field: Field = None,
                  restricted: Annotated[bool, typer.Option(help="seen only by its owner, the users listed, admins")] = False,
                  access_user_id: Access = None, as_json: JsonOpt = False) -> None:
    """Create a record of KIND (contact, lead, opportunity, job...) titled TITLE."""
    body = given(kind=kind, title=title, status=status, type=type, email=email, phone=phone, channel=channel,
                 owner_id=owner_id, contact_id=contact_id, fields=pairs(field, "--field") or None,
                 restricted=restricted or None, access_user_ids=access_user_id)
    data = call(api().post, "/records", json=body)
    out(data, as_json, _record_text(data))


@records.command("update")
def update_record(record_id: int, title: Annotated[str | None, typer.Option()] = None,
                  status: Annotated[str | None, typer.Option()] = None, type: Annotated[str | None, typer.Option()] = None,
                  email: Annotated[str | None, typer.Option()] = None, phone: Annotated[str | None, typer.Option()] = None,
                  channel: Annotated[str | None, typer.Option()] = None,
                  owner_id: Annotated[int | None, typer.Option()] = None, field: Field = None,
                  restricted: Annotated[bool | None, typer.Option("--restricted/--not-restricted")] = None,
                  access_user_id: Access = None, as_json: JsonOpt = False) -> None:
    """Change a record: only what you name (a status change may start processes)."""
    body = given(title=title, status=status, type=type, email=email, phone=phone, channel=channel,
                 owner_id=owner_id, fields=pairs(field, "--field") or None, restricted=restricted,
                 access_user_ids=access_user_id)
    if not body:
        typer.echo("nothing to change: name at least one option (see --help)", err=True)
        raise typer.Exit(2)
    data = call(api().patch, f"/records/{record_id}", json=body)
    out(data, as_json, _record_text(data))


@records.command("history")
def record_history(record_id: int, limit: Limit = 200, offset: Offset = 0, as_json: JsonOpt = False) -> None:
    """The record's activity log, oldest first."""
    data = call(api().get, f"/records/{record_id}/history", params={"limit": limit, "offset": offset})
    out(data, as_json, "\n".join(f"{when(e['created_at'])}  {e['kind']:<18} {e['text']}" for e in data)
        or "no history")
