"""Loading the example users, records and templates through the API, in the office's language; safe to run again.

`examples/en` and `examples/it` hold the same office in English and in Italian, under keys, record types and titles
of their own: the Italian set loaded into a `data/` where the English one already is (or the other way round) adds
to it and changes nothing there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from cli.api_client import ApiClient, ApiError
from processes.languages import language
from processes.wording import counted

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def examples_in(locale: str) -> Path:
    """The examples in `locale`'s language (`it`, `it_CH`: the Italian ones), else the English ones."""
    return EXAMPLES / language(locale)


@dataclass
class Loaded:
    """The examples, counted: each kind in the examples, and how many of them this run added."""

    users: int
    records: int
    templates: int
    pipelines: int = 0
    request_templates: int = 0  # client request templates
    new_users: int = 0
    new_records: int = 0
    new_templates: int = 0  # saved as a new version (a template that was already there unchanged is not)
    new_pipelines: int = 0
    new_request_templates: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def text(self) -> str:
        counts = (f"{counted(self.users, 'user')}, {counted(self.records, 'record')}, "
                  f"{counted(self.templates, 'template')}, {counted(self.pipelines, 'pipeline')}, "
                  f"{counted(self.request_templates, 'client request template')}")
        new = (self.new_users, self.new_records, self.new_templates, self.new_pipelines, self.new_request_templates)
        if new == (self.users, self.records, self.templates, self.pipelines, self.request_templates):
            return f"{counts} (loaded now)"
        if not sum(new):
            return f"{counts} (loaded before)"
        return (f"{counts} (new now: {counted(self.new_users, 'user')}, {counted(self.new_records, 'record')}, "
                f"{counted(self.new_templates, 'template version')}, "
                f"{counted(self.new_pipelines, 'pipeline version')}, "
                f"{counted(self.new_request_templates, 'client request template version')})")


def load_examples(api: ApiClient, folder: Path) -> Loaded:
    data = yaml.safe_load((folder / "data.yaml").read_text())
    loaded = Loaded(users=len(data["users"]), records=len(data["records"]),
                    templates=len(list((folder / "templates").glob("*.yaml"))),
                    pipelines=len(list((folder / "pipelines").glob("*.yaml"))),
                    request_templates=len(list((folder / "client-requests").glob("*.yaml"))))
    wanted = {user["handle"] for user in data["users"]}
    users = {u["handle"]: u["id"] for u in api.every("/users") if u["handle"] in wanted}
    for user in data["users"]:
        if user["handle"] not in users:
            users[user["handle"]] = api.post("/users", json=user)["id"]
            loaded.new_users += 1
    # templates, then pipelines (an automation may start a template), then records (they start in their type's
    # initial status)
    loaded.new_templates = _save_all(api, sorted((folder / "templates").glob("*.yaml")), "/templates")
    loaded.new_pipelines = _save_all(api, sorted((folder / "pipelines").glob("*.yaml")), "/pipelines")
    loaded.new_request_templates = _save_all(api, sorted((folder / "client-requests").glob("*.yaml")),
                                             "/client-request-templates")
    records: dict[tuple[str, str], int] = {}
    for spec in data["records"]:
        spec = dict(spec)
        owner, contact = spec.pop("owner", None), spec.pop("contact", None)
        same = [r for r in api.get("/records", params={"kind": spec["kind"], "q": spec["title"]})
                if r["title"] == spec["title"]]
        if same:
            records[(spec["kind"], spec["title"])] = same[0]["id"]
            continue
        if owner:
            spec["owner_id"] = users[owner]
        if contact:
            spec["contact_id"] = records[("contact", contact)]
        records[(spec["kind"], spec["title"])] = api.post("/records", json=spec)["id"]
        loaded.new_records += 1
    return loaded


def _save_all(api: ApiClient, paths: list[Path], route: str) -> int:
    """Save each file; how many were saved as a new version."""
    saved = 0
    for path in paths:
        try:
            response = api.send("POST", route, content=path.read_bytes(), headers={"Content-Type": "application/yaml"})
        except ApiError as exc:
            raise SystemExit(f"{path}: {exc}") from None
        saved += response.status_code == 201
    return saved
