"""Pipelines checked when saved: every mistake a 422 with its path, nothing stored; versions; record types."""

from __future__ import annotations

import uuid

import pytest

from processes.errors import PipelineInvalid
from processes.pipeline_validation import validate_pipeline
from processes.stage_templates import stage_template
from tests.pipelines.conftest import Api, repair_pipeline, save


def errors_of(document: dict) -> list[str]:
    with pytest.raises(PipelineInvalid) as caught:
        validate_pipeline(document, known_users={"maria"}, known_templates={})
    return [str(detail) for detail in caught.value.details]


def test_a_valid_pipeline_gives_each_type_its_sequence() -> None:
    pipeline = validate_pipeline(repair_pipeline("x"), known_users=set(), known_templates={})
    assert pipeline.sequence("Warranty repair x") == ["Diagnosis", "Warranty claim filed", "In repair",
                                                      "Ready for pickup", "Closed"]
    assert pipeline.initial("Paid repair x") == "New"  # none configured: New
    assert pipeline.allowed_next("Warranty repair x", "Diagnosis") == ["Warranty claim filed"]  # isolated
    assert pipeline.allowed_next("Paid repair x", "Diagnosis") == ["Quote sent"]


def test_a_type_naming_no_initial_status_starts_in_its_first_when_it_has_no_new() -> None:
    """An office's own words: `Nuovo` first, no `New`; `New` itself wherever it is in the sequence, as before."""
    document = {"key": "vendite", "name": "Vendite", "record_kind": "lead",
                "statuses": [{"name": "Nuovo"}, {"name": "Contattato"}, {"name": "Perso"}],
                "types": [{"name": "Contatto dal sito"},
                          {"name": "Richiesta telefonica", "statuses": ["Contattato", "Perso"]}]}
    pipeline = validate_pipeline(document, known_users=set(), known_templates={})
    assert pipeline.initial("Contatto dal sito") == "Nuovo"
    assert pipeline.initial("Richiesta telefonica") == "Contattato"  # the first of its own sequence
    document["statuses"].append({"name": "New"})
    assert validate_pipeline(document, known_users=set(), known_templates={}).initial("Contatto dal sito") == "New"


def test_every_mistake_has_its_path() -> None:
    document = repair_pipeline("x")
    document["statuses"].append({"name": "Closed"})
    document["moves"]["Diagnosis"].append("Quote snet")
    document["types"][0]["initial_status"] = "New"
    document["types"][1]["statuses"].append("Archived")
    document["statuses"][1]["automations"] = [
        {"on": "enter", "actions": [{"set_status": {"status": "Nowhere"}}, {"open_substate": {"substate": "Parts"}},
                                    {"notify": {"users": ["mario"]}},
                                    {"send_email": {"subject": "Hi", "body": "{{ recrod.title }}"}}]},
        {"on": "scheduled", "after_days": 2, "actions": [{"add_history": {"text": "late"}}]}]
    found = errors_of(document)
    assert "statuses[7].name: duplicate status 'Closed' (also statuses[6])" in found
    assert any(e.startswith("moves.Diagnosis[2]: unknown status 'Quote snet' (did you mean 'Quote sent'") for e in found)
    assert any(e.startswith("types[0].initial_status: 'New' is not in the sequence of type") for e in found)
    assert any(e.startswith("types[1].statuses[6]: unknown status 'Archived'") for e in found)
    automation = "statuses[1].automations[0].actions"
    assert any(e.startswith(f"{automation}[0].set_status.status: unknown status 'Nowhere'") for e in found)
    assert any(e.startswith(f"{automation}[1].open_substate.substate: unknown substate of 'Diagnosis' 'Parts'")
               for e in found)
    assert any(e.startswith(f"{automation}[2].notify.users[0]: unknown user 'mario' (did you mean 'maria'")
               for e in found)
    assert any(e.startswith(f"{automation}[3].send_email.body: unknown variable 'recrod'") for e in found)


def test_roles_named_are_roles_users_have() -> None:
    """A misspelt role found nobody when the automation ran (an incident weeks later); now it is refused at save, and
    an `assign` listing its candidates by name needs no user of its role"""
    document = {**repair_pipeline("x"), "controller_email": "controller@agency.example"}
    document["statuses"][1]["automations"] = [{"on": "enter", "actions": [
        {"notify": {"roles": ["manger"]}},
        {"assign": {"role": "installer"}},
        {"assign": {"role": "surveyor", "criteria": [{"users": ["maria"]}]}}]}]
    with pytest.raises(PipelineInvalid) as caught:
        validate_pipeline(document, known_users={"maria": "agent", "chiara": "manager"}, known_templates={})
    found = [str(detail) for detail in caught.value.details]
    automation = "statuses[1].automations[0].actions"
    assert found == [f"{automation}[0].notify.roles[0]: no user has the role 'manger' (did you mean 'manager'?)",
                     f"{automation}[1].assign.role: no user has the role 'installer' (the roles users have: agent, "
                     "manager)"]


def test_names_that_differ_only_in_case_or_accent_encoding_are_duplicates() -> None:
    """`Nuovo` and `nuovo`, or `Già visto` typed with a composed and a decomposed `à`, look the same on a board"""
    document = {"key": "vendite", "name": "Vendite", "record_kind": "lead",
                "statuses": [{"name": "Nuovo"}, {"name": "Gi\u00e0 visto"}, {"name": "nuovo"}, {"name": "Gia\u0300 visto"}],
                "types": [{"name": "Sito"}, {"name": "SITO"}, {"name": "Telefono "}]}
    found = errors_of(document)
    assert "statuses[2].name: duplicate status 'nuovo' (also statuses[0] 'Nuovo', which differs only in letter case " \
           "or accent encoding)" in found
    assert any(e.startswith("statuses[3].name: duplicate status 'Gia\u0300 visto' (also statuses[1] ") for e in found)
    assert any(e.startswith("types[1].name: duplicate record type 'SITO' (also types[0] 'Sito'") for e in found)
    assert "types[2].name: 'Telefono ' has spaces around it: write 'Telefono'" in found


def test_a_sequence_or_a_move_naming_a_status_twice_or_itself_is_refused() -> None:
    """`[New, New]`, `New: [Open, Open]` and `New: [New]` were saved; the last was refused at run time, "already in\""""
    document = {"key": "dupes", "name": "Dupes", "record_kind": "lead",
                "statuses": [{"name": "New"}, {"name": "Open"}],
                "moves": {"New": ["Open", "Open", "New"]},
                "types": [{"name": "Web", "statuses": ["New", "New", "Open"]}]}
    found = errors_of(document)
    assert "moves.New[1]: 'Open' is listed twice (also [0])" in found
    assert "moves.New[2]: 'New' moves to itself: a record is in it already" in found
    assert "types[0].statuses[1]: 'New' is twice in the type's sequence (also statuses[0])" in found


def test_shape_errors_have_their_paths() -> None:
    document = repair_pipeline("x")
    document["statuses"][0]["automations"] = [{"on": "scheduled", "actions": [{"add_history": {"text": "x"}}]},
                                              {"on": "enter", "actions": [{"send_fax": {}}]}]
    document["types"][0]["colour"] = "red"
    found = errors_of(document)
    assert any(e.startswith("statuses[0].automations[0]: a scheduled automation gives one of") for e in found)
    assert any(e.startswith("statuses[0].automations[1].actions[0]: unknown action 'send_fax'") for e in found)
    assert "types[0].colour: unknown field" in found


async def test_saving_refuses_mistakes_and_stores_nothing(api: Api) -> None:
    document = repair_pipeline(types=[{"name": f"t{uuid.uuid4().hex[:6]}", "initial_status": "Nope"}])
    response = await save(api, document)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "PipelineInvalid"
    assert body["errors"][0]["path"] == "types[0].initial_status"
    assert (await api.http.get(f"/pipelines/{document['key']}", headers=api.as_("staff"))).status_code == 404
    broken = await api.http.post("/pipelines", headers={**api.as_("admin"), "Content-Type": "application/yaml"},
                                 content="key: [unclosed")
    assert broken.status_code == 422 and broken.json()["type"] == "PipelineInvalid"
    assert (await api.http.post("/pipelines", headers=api.as_("staff"), json=document)).status_code == 403


async def test_versions_and_record_types(api: Api) -> None:
    tag = uuid.uuid4().hex[:8]
    document = repair_pipeline(tag)
    first = await save(api, document)
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1
    again = await save(api, document)
    assert again.status_code == 200 and again.json()["version"] == 1  # unchanged: nothing saved
    document["statuses"].insert(6, {"name": "Invoiced"})
    second = await save(api, document)
    assert second.status_code == 201 and second.json()["version"] == 2
    staff = api.as_("staff")
    versions = (await api.http.get(f"/pipelines/{document['key']}/versions", headers=staff)).json()
    assert [v["version"] for v in versions] == [1, 2]
    listed = (await api.http.get("/pipelines", headers=staff, params={"kind": "job"})).json()
    assert any(p["key"] == document["key"] and p["latest_version"] == 2 for p in listed)
    warranty = (await api.http.get(f"/record-types/job/Warranty repair {tag}", headers=staff)).json()
    assert warranty["initial_status"] == "Diagnosis" and warranty["pipeline_version"] == 2
    assert warranty["moves"]["Diagnosis"] == ["Warranty claim filed"]
    missing = await api.http.get(f"/record-types/job/Warranty repiar {tag}", headers=staff)
    assert missing.status_code == 404 and "did you mean" in missing.json()["detail"]
    # a type belongs to one pipeline at a time
    other = repair_pipeline(types=[{"name": f"Paid repair {tag}"}])
    taken = await save(api, other)
    assert taken.status_code == 409 and f"belongs to pipeline '{document['key']}'" in taken.json()["detail"]


def test_automations_are_checked_as_the_processes_they_run_as() -> None:
    document = repair_pipeline("x")
    document["statuses"][1]["automations"] = [
        {"on": "enter", "actions": [{"reminder": {"after_days": 1}},
                                    {"create_task": {"title": "Call", "assignee": {"user": "mari"}}},
                                    {"close_substate": {"substate": "Waiting for parts"}}]}]
    document["statuses"][1]["substates"][0]["automations"] = [
        {"on": "scheduled", "after_hours": 4, "actions": [{"notify": {"roles": ["manager"],
                                                                      "message": "{{ recrod }}"}}]}]
    found = errors_of(document)
    assert any(e.startswith("controller_email: statuses[1].automations: a pipeline with automations names") for e in found)
    assert any(e.startswith("statuses[1].automations[0].actions[0]: 'reminder' is not an automation's action")
               for e in found)
    assert any(e.startswith("statuses[1].automations[0].actions[1].create_task.assignee.user: unknown user 'mari'")
               for e in found)
    assert any(e.startswith("statuses[1].substates[0].automations[0].actions[0].notify.message: unknown variable "
                            "'recrod'") for e in found)
    assert not any("close_substate" in e for e in found)  # a substate of the status: fine


def test_a_client_request_names_a_saved_request_template() -> None:
    document = {**repair_pipeline("x"), "controller_email": "controller@studio.example"}
    document["statuses"][1]["automations"] = [
        {"on": "enter", "actions": [{"send_client_request": {"template": "tax-documnets"}}]},
        {"on": "exit", "actions": [{"send_client_request": {"template": "tax-documents"}}]}]
    with pytest.raises(PipelineInvalid) as caught:
        validate_pipeline(document, known_users=set(), known_templates={}, known_requests={"tax-documents"})
    assert [str(d) for d in caught.value.details] == [
        "statuses[1].automations[1].actions[0].send_client_request.auto_move: an on-exit automation runs once the "
        "record has left the status: its answers cannot move it on (set auto_move: false)",
        "statuses[1].automations[0].actions[0].send_client_request.template: no client request template "
        "'tax-documnets' (did you mean 'tax-documents'?)"]


def test_automations_name_configured_webhook_endpoints() -> None:
    document = repair_pipeline("x", controller_email="controller@agency.example")
    document["statuses"][1]["automations"] = [{"on": "enter", "actions": [{"webhook": {"endpoint": "crn"}}]}]
    with pytest.raises(PipelineInvalid) as caught:
        validate_pipeline(document, known_users=set(), known_templates={}, known_endpoints={"crm"})
    assert [str(d) for d in caught.value.details] == [
        "statuses[1].automations[0].actions[0].webhook.endpoint: no webhook endpoint 'crn' in WEBHOOK_ENDPOINTS "
        "(did you mean 'crm'?)"]
    validate_pipeline(document, known_users=set(), known_templates={}, known_endpoints={"crn"})
    validate_pipeline(document, known_users=set(), known_templates={})  # None: not checked


@pytest.mark.parametrize(("locale", "names"), [
    ("en", ["Repair jobs · Diagnosis · on enter", "Entered Diagnosis", "1 hour in Diagnosis", "2 days in Diagnosis"]),
    ("it", ["Repair jobs · Diagnosis · all'ingresso", "Ingresso in Diagnosis", "1 ora in Diagnosis",
            "2 giorni in Diagnosis"])])
def test_a_statuss_automations_run_as_a_process_named_in_the_offices_language(locale: str, names: list[str]) -> None:
    """The process and its phases, as staff see them in the console and the Temporal UI, in LOCALE's language"""
    document = repair_pipeline("x", controller_email="controller@agency.example")
    note = {"add_history": {"text": "nota"}}
    document["statuses"][1]["automations"] = [
        {"on": "enter", "actions": [note]}, {"on": "scheduled", "after_days": 2, "actions": [note]},
        {"on": "scheduled", "after_hours": 1, "actions": [note]}]
    pipeline = validate_pipeline(document, known_users=set(), known_templates={})
    built = stage_template(pipeline, "Diagnosis", None, "enter", None, locale=locale)
    assert built is not None
    assert [built.template.name, *(phase.name for phase in built.template.phases)] == names


async def test_a_role_is_known_once_a_user_has_it(api: Api) -> None:
    """The save reads the users' roles as they are now: refused before anyone has the role, saved once someone does"""
    role = f"surveyor-{uuid.uuid4().hex[:6]}"
    document = {**repair_pipeline(), "controller_email": "controller@agency.example"}
    document["statuses"][1]["automations"] = [{"on": "enter", "actions": [{"notify": {"roles": [role]}}]}]
    refused = await save(api, document)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["path"] == "statuses[1].automations[0].actions[0].notify.roles[0]"
    assert (await api.http.get(f"/pipelines/{document['key']}", headers=api.as_("staff"))).status_code == 404
    handle = f"s{uuid.uuid4().hex[:8]}"
    added = await api.http.post("/users", headers=api.as_("admin"), json={
        "handle": handle, "name": "Sara Geometra", "email": f"{handle}@agency.example", "role": role})
    assert added.status_code == 201, added.text
    saved = await save(api, document)
    assert saved.status_code == 201, saved.text
