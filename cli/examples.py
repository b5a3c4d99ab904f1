"""Loading the example users, records and templates through the API; safe to run again."""

from __future__ import annotations

from pathlib import Path

import yaml

from cli.api_client import ApiClient, ApiError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_examples(api: ApiClient, folder: Path = EXAMPLES) -> dict[str, int]:
    data = yaml.safe_load((folder / "data.yaml").read_text())
    users = {u["handle"]: u["id"] for u in api.get("/users")}
    for user in data["users"]:
        if user["handle"] not in users:
            users[user["handle"]] = api.post("/users", json=user)["id"]
    existing = {(r["kind"], r["title"]): r["id"] for r in api.get("/records", params={"limit": 500})}
    for spec in data["records"]:
        spec = dict(spec)
        owner, contact = spec.pop("owner", None), spec.pop("contact", None)
        if (spec["kind"], spec["title"]) in existing:
            continue
        if owner:
            spec["owner_id"] = users[owner]
        if contact:
            spec["contact_id"] = existing[("contact", contact)]
        existing[(spec["kind"], spec["title"])] = api.post("/records", json=spec)["id"]
    templates = 0
    for path in sorted((folder / "templates").glob("*.yaml")):
        try:
            api.post("/templates", content=path.read_bytes(), headers={"Content-Type": "application/yaml"})
            templates += 1
        except ApiError as exc:
            raise SystemExit(f"{path}: {exc}") from None
    return {"users": len(users), "records": len(existing), "templates": templates}
