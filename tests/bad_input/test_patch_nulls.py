"""PATCH bodies: null for a field the table holds NOT NULL is refused with the field's path, and the schema says so."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlmodel import SQLModel

import crm.cases.models
import crm.models
import crm.task_forms
from crm.patch import Patch, admits_null
from tests.bad_input.conftest import Api

PROBLEM_JSON = "application/problem+json"
MODULES = (crm.models, crm.cases.models, crm.task_forms)
MODELS = {name: m for module in MODULES for name, m in vars(module).items() if isinstance(m, type)}
PATCH_MODELS = sorted((m for m in MODELS.values() if issubclass(m, Patch) and m is not Patch), key=lambda m: m.__name__)
TABLES = {"Case": crm.models.Record}  # a case is a record (its name the record's title)


def _table(model: type[Patch]) -> type[SQLModel]:
    name = model.__name__.removesuffix("Update")
    return TABLES.get(name) or MODELS[name]


def test_every_update_model_takes_null_only_where_its_table_does() -> None:
    """Every *Update model is a Patch, and takes null for a field exactly where the table's column is nullable"""
    updates = {m.__name__ for m in MODELS.values() if issubclass(m, SQLModel) and m.__name__.endswith("Update")}
    assert updates == {m.__name__ for m in PATCH_MODELS} == {"RecordUpdate", "UserUpdate", "CaseUpdate", "TagUpdate",
                                                                    "TaskUpdate"}
    wrong = []
    for model in PATCH_MODELS:
        columns = _table(model).__table__.columns  # type: ignore[attr-defined]
        for name, info in model.model_fields.items():
            nullable = name in columns and bool(columns[name].nullable)
            if admits_null(info.annotation) != nullable:
                wrong.append(f"{model.__name__}.{name}: takes null {admits_null(info.annotation)}, "
                             f"column nullable {nullable}")
    assert not wrong, "\n".join(wrong)


NOT_NULL = {"records": ["title", "status", "type", "channel", "restricted", "fields", "access_user_ids"],
            "users": ["name", "email", "role"]}


async def test_null_for_a_required_field_is_refused_with_its_path(api: Api) -> None:
    """PATCH /records/{id} and /users/{id} with null for a required field: 422 naming it, nothing changed"""
    admin = api.as_("admin")
    tag = uuid.uuid4().hex[:8]
    user = (await api.http.post("/users", headers=admin, json={
        "handle": f"nulls{tag}", "name": "Nadia Null", "email": f"nulls{tag}@agency.example"})).json()
    record = (await api.http.post("/records", headers=admin, json={
        "kind": "lead", "title": "Null test", "type": "web", "channel": "phone", "owner_id": user["id"],
        "fields": {"budget": 100}})).json()
    targets = {"records": record, "users": user}
    wrong = []
    for resource, fields in NOT_NULL.items():
        url = f"/{resource}/{targets[resource]['id']}"
        for name in fields:
            response = await api.http.patch(url, headers=admin, json={name: None})
            problem = response.json()
            paths = [e["path"] for e in problem.get("errors", [])]
            if response.status_code != 422 or not response.headers["content-type"].startswith(PROBLEM_JSON) \
                    or paths != [f"body.{name}"]:
                wrong.append(f"PATCH {url} {{{name}: null}}: {response.status_code} {response.text[:300]}")
        after = (await api.http.get(url, headers=admin)).json()
        if after != targets[resource]:
            wrong.append(f"{url} changed: {targets[resource]} -> {after}")
    assert not wrong, "\n".join(wrong)
    # a nullable field still clears with null
    cleared = await api.http.patch(f"/records/{record['id']}", headers=admin, json={"owner_id": None, "phone": None})
    assert cleared.status_code == 200 and cleared.json()["owner_id"] is None, cleared.text
    # free fields merge as JSON Merge Patch says (RFC 7396), at any depth: a nested object had been replaced whole
    merged = await api.http.patch(f"/records/{record['id']}", headers=admin, json={"fields": {
        "impianto": {"kw": 4.5, "pannelli": 12, "tetto": {"falde": 2}}}})
    assert merged.json()["fields"] == {"budget": 100, "impianto": {"kw": 4.5, "pannelli": 12, "tetto": {"falde": 2}}}
    merged = await api.http.patch(f"/records/{record['id']}", headers=admin, json={"fields": {
        "impianto": {"pannelli": None, "tetto": {"esposizione": "sud"}}, "budget": None}})
    assert merged.status_code == 200, merged.text
    assert merged.json()["fields"] == {"impianto": {"kw": 4.5, "tetto": {"falde": 2, "esposizione": "sud"}}}


def _offers_null(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "null" or "default" in schema and schema["default"] is None \
        or any(_offers_null(alternative) for alternative in schema.get("anyOf", []))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_schema_does_not_offer_null_for_a_required_field(api: Api) -> None:
    """The OpenAPI schema of every PATCH body offers null only for the fields that take it"""
    document = (await api.http.get("/openapi.json")).json()
    components = document["components"]["schemas"]
    bodies = [operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
              for item in document["paths"].values() for method, operation in item.items() if method == "patch"]
    assert sorted(bodies) == ["CaseUpdate", "RecordUpdate", "TagUpdate", "TaskUpdate",
                                                                    "UserUpdate"]
    wrong = []
    for body in bodies:
        model = MODELS[body]
        for name, prop in components[body]["properties"].items():
            if _offers_null(prop) != admits_null(model.model_fields[name].annotation):
                wrong.append(f"{body}.{name}: {prop}")
    assert not wrong, "\n".join(wrong)


async def test_a_contact_id_names_a_contact_other_than_the_record_and_makes_no_circle(api: Api) -> None:
    """contact_id: the record itself, a record that is not a contact, or a contact whose own contacts lead back to
    the record is refused with 422 body.contact_id, nothing changed; a person's company is taken"""
    admin = api.as_("admin")
    tag = uuid.uuid4().hex[:8]

    async def made(kind: str, **extra: Any) -> dict[str, Any]:
        response = await api.http.post("/records", headers=admin, json={"kind": kind, "title": f"{kind} {tag}",
                                                                          **extra})
        assert response.status_code == 201, response.text
        return response.json()

    company = await made("contact")
    person = await made("contact", contact_id=company["id"])  # a person of a company
    lead, job = await made("lead", contact_id=person["id"]), await made("job")
    refused = [(f"/records/{lead['id']}", "patch", {"contact_id": lead["id"]}),
               (f"/records/{lead['id']}", "patch", {"contact_id": job["id"]}),
               (f"/records/{company['id']}", "patch", {"contact_id": person["id"]}),  # company -> person -> company
               ("/records", "post", {"kind": "lead", "title": f"Linked {tag}", "contact_id": job["id"]})]
    wrong = []
    for url, method, body in refused:
        response = await api.http.request(method.upper(), url, headers=admin, json=body)
        if response.status_code != 422 or [e["path"] for e in response.json().get("errors", [])] != ["body.contact_id"]:
            wrong.append(f"{method.upper()} {url} {body}: {response.status_code} {response.text[:300]}")
    assert not wrong, "\n".join(wrong)
    for record in (lead, company):
        assert (await api.http.get(f"/records/{record['id']}", headers=admin)).json() == record
