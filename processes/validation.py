"""Validate a process template document: every error, each with its path.

Structure is checked by the pydantic models; this module adds what they cannot
see: unique phase keys, user-authored text that compiles in the sandbox and uses
only known variables (`text_checks`), named users and locales that exist, follow-ups
of saved templates, a way to the end from every phase, and a size that a workflow
input can carry. Reading the document itself is `documents`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from processes.documents import format_path, parse_document
from processes.errors import ErrorCollector, ErrorDetail, TemplateInvalid, did_you_mean
from processes.formatting import parse_locale
from processes.json_text import check_json_text
from processes.sms_text import check_sms
from processes.action_kinds import (Assign, CreateTask, Letter, Notify, NotifyOwner, RequestSignature,
                                    SendClientRequest, SendSms, StartFollowUp, StartProcess, Webhook)
from processes.template import ProcessTemplate
from processes.template_basics import RecordKind, Responsible
from processes.text_checks import check_condition, check_text
from processes.trials import TRIAL_SECONDS, trial_deadline
from processes.upgrades import upgrade_template
from processes.wording import with_article

# Every process carries its template in its workflow input, and again when it continues as new (with its state,
# which grows with the phases). Temporal refuses a payload over 2 MB (and warns past 512 KB): this bound keeps the
# largest template that saves, with the state of its largest process, well inside (tests/e2e/test_largest_template.py).
MAX_TEMPLATE_JSON_BYTES = 256_000
MAX_ACTIONS = 1_000

__all__ = ["TEXT_FIELDS", "check_template", "parse_document", "successors", "validate_template"]


def pydantic_errors(exc: ValidationError) -> Iterator[ErrorDetail]:
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-")))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "missing":
            message = "required field missing"
        yield ErrorDetail(format_path(loc), message)



def _check_user(path: str, responsible: Responsible | None, known_users: Collection[str] | None,
                errors: ErrorCollector) -> None:
    if responsible is None or responsible.kind != "user" or known_users is None:
        return
    if responsible.user not in known_users:
        errors.add(f"{path}.user", f"unknown user '{responsible.user}'{did_you_mean(responsible.user, known_users)}")


TEXT_FIELDS = ("subject", "body", "title", "description", "text", "message", "location", "html", "name", "note",
               "document")


def _check_people(base: str, spec: Any, known_users: Collection[str] | None, errors: ErrorCollector) -> None:
    """The users a `notify` or an `assign` names are users there are. When `known_users` maps each handle to the
    user's role, the roles it names are roles users have: a `notify`'s roles, and an `assign`'s role when a criterion
    takes the role's users (it lists none). A role no user has is a typo or a user not yet added: either way the
    action would find nobody when it runs."""
    if known_users is None:
        return
    if isinstance(spec, Notify):
        handles = [(f"{base}.users[{k}]", handle) for k, handle in enumerate(spec.users)]
        roles = [(f"{base}.roles[{k}]", role) for k, role in enumerate(spec.roles)]
    elif isinstance(spec, Assign):
        handles = [(f"{base}.criteria[{c}].users[{k}]", handle)
                   for c, candidates in enumerate(spec.criteria) for k, handle in enumerate(candidates.users)]
        roles = [(f"{base}.role", spec.role)] if any(not candidates.users for candidates in spec.criteria) else []
    else:
        return
    for path, handle in handles:
        if handle not in known_users:
            errors.add(path, f"unknown user '{handle}'{did_you_mean(handle, known_users)}")
    if isinstance(known_users, Mapping):
        held = sorted({role for role in known_users.values() if role})
        for path, role in roles:
            if role not in held:
                errors.add(path, f"no user has the role '{role}'" + (did_you_mean(role, held) or (
                    f" (the roles users have: {', '.join(held[:20])})" if held else " (there are no users)")))


def check_template(template: ProcessTemplate, *, known_users: Collection[str] | None = None,
                   known_templates: Mapping[str, RecordKind] | None = None,
                   known_endpoints: Collection[str] | None = None, known_requests: Collection[str] | None = None,
                   known_signers: Collection[str] | None = None) -> list[ErrorDetail]:
    """The semantic errors of a structurally valid template.

    `known_users`: user handles that may be named (a mapping of each to the user's role checks the roles a `notify` or
    an `assign` names too); `known_templates`: the record kind of
    each saved template that a follow-up may start; `known_endpoints`: the webhook endpoints
    configured (WEBHOOK_ENDPOINTS); `known_requests`: the client request templates saved; `known_signers`: the
    signing providers (`embedded` and SIGNING_PROVIDERS).
    `None` skips that check.
    """
    errors = ErrorCollector()
    _check_locale("locale", template.locale, errors)
    deadline = trial_deadline.set(time.monotonic() + TRIAL_SECONDS)
    try:
        _check_phases(template, errors, known_users, known_templates, known_endpoints, known_requests, known_signers)
    finally:
        trial_deadline.reset(deadline)
    if not errors.errors:
        _check_reaches_end(template, errors)
    return errors.errors


def _check_phases(template: ProcessTemplate, errors: ErrorCollector, known_users: Collection[str] | None,
                  known_templates: Mapping[str, RecordKind] | None, known_endpoints: Collection[str] | None,
                  known_requests: Collection[str] | None, known_signers: Collection[str] | None) -> None:
    keys = [p.key for p in template.phases]
    if (actions := sum(len(p.actions) for p in template.phases)) > MAX_ACTIONS:
        errors.add("phases", f"the template has {actions} actions; the limit is {MAX_ACTIONS} (a process keeps the "
                             "outcome of each in its state)")
    seen: dict[str, int] = {}
    for i, phase in enumerate(template.phases):
        where = f"phases[{i}]"
        if phase.key in seen:
            errors.add(f"{where}.key", f"duplicate phase key '{phase.key}' (also phases[{seen[phase.key]}])")
        seen.setdefault(phase.key, i)
        _check_user(f"{where}.responsible", phase.responsible, known_users, errors)
        for j, action in enumerate(phase.actions):
            spec = action.spec
            base = f"{where}.actions[{j}].{action.kind}"
            _check_locale(f"{base}.locale", getattr(spec, "locale", None), errors)
            for field_name, value in spec:
                if field_name in TEXT_FIELDS and value:
                    check_text(f"{base}.{field_name}", value, errors, keys)
                if field_name == "values":
                    for name, text in value.items():
                        check_text(f"{base}.values.{name}", text, errors, keys)
            if isinstance(spec, Webhook):
                check_json_text(f"{base}.body", spec.body, errors)
                if known_endpoints is not None and spec.endpoint not in known_endpoints:
                    errors.add(f"{base}.endpoint", f"no webhook endpoint '{spec.endpoint}' in WEBHOOK_ENDPOINTS"
                                                   f"{did_you_mean(spec.endpoint, known_endpoints)}"
                                                   + ("" if known_endpoints else " (none is configured)"))
            if isinstance(spec, Letter) and spec.email is not None:
                check_text(f"{base}.email.subject", spec.email.subject, errors, keys)
                check_text(f"{base}.email.body", spec.email.body, errors, keys)
            if isinstance(spec, NotifyOwner) and spec.to == "property_owner" and \
                    template.record_kind is not RecordKind.property:
                errors.add(f"{base}.to", f"{with_article(template.record_kind.value)} record has no property owner: "
                                         "property_owner is for processes on property records")
            if isinstance(spec, SendSms):
                check_sms(base, spec.to, spec.text, errors)
            if isinstance(spec, CreateTask):
                _check_user(f"{base}.assignee", spec.assignee, known_users, errors)
            _check_people(base, spec, known_users, errors)
            if isinstance(spec, SendClientRequest):
                _check_locale(f"{base}.language", spec.language, errors)
                if known_requests is not None and spec.template not in known_requests:
                    errors.add(f"{base}.template", f"no client request template '{spec.template}'"
                                                   f"{did_you_mean(spec.template, known_requests)}"
                                                   + ("" if known_requests else " (none is saved)"))
            if isinstance(spec, RequestSignature):
                if known_signers is not None and spec.provider not in known_signers:
                    errors.add(f"{base}.provider", f"no signing provider '{spec.provider}' in SIGNING_PROVIDERS"
                                                   f"{did_you_mean(spec.provider, known_signers)} (there are "
                                                   f"{', '.join(sorted(known_signers))})")
                made = [a.spec.name for earlier in template.phases[:i + 1]
                        for a in (earlier.actions[:j] if earlier is phase else earlier.actions)
                        if isinstance(a.spec, Letter)]
                if spec.document not in made:
                    errors.add(f"{base}.document", "no `letter` or `report` action before it makes a document of "
                                                   f"that name ({spec.document!r}): the name is the letter's `name`"
                               + (f"; letters before it make {', '.join(repr(m) for m in made)}" if made else ""))
            if isinstance(spec, StartFollowUp | StartProcess):
                _check_user(f"{base}.owner", spec.owner, known_users, errors)
                _check_follow_up(base, spec, template, known_templates, errors)
        for b, branch in enumerate(phase.decision or []):
            check_condition(f"{where}.decision[{b}].when", branch.when, errors, keys)
            _check_target(f"{where}.decision[{b}].goto", branch.goto, keys, errors)
        if phase.next is not None:
            _check_target(f"{where}.next", phase.next, keys, errors)


def _check_locale(path: str, locale: str | None, errors: ErrorCollector) -> None:
    if locale is not None:
        try:
            parse_locale(locale)
        except ValueError as exc:
            errors.add(path, str(exc))


def _check_target(path: str, key: str, keys: list[str], errors: ErrorCollector) -> None:
    if key not in keys:
        errors.add(path, f"unknown phase '{key}'{did_you_mean(key, keys)}")


def _check_follow_up(path: str, spec: StartFollowUp | StartProcess, template: ProcessTemplate,
                     known_templates: Mapping[str, RecordKind] | None, errors: ErrorCollector) -> None:
    if known_templates is None:
        return
    kinds = {**known_templates, template.key: template.record_kind}
    if spec.template not in kinds:
        errors.add(f"{path}.template", f"unknown template '{spec.template}'{did_you_mean(spec.template, kinds)}")
        return
    same = isinstance(spec, StartProcess) or spec.record == "same"
    target = template.record_kind if same else RecordKind.contact
    if kinds[spec.template] != target:
        errors.add(f"{path}.template", f"template '{spec.template}' runs on {kinds[spec.template].value} records, "
                                       f"but this {'process' if isinstance(spec, StartProcess) else 'follow-up'} runs "
                                       f"on the {'record' if same else 'contact'} ({target.value})")


def successors(template: ProcessTemplate, index: int) -> list[int | None]:
    """Where a phase may lead: phase indexes, and None for the end of the process."""
    phase = template.phases[index]
    following = phase.next if phase.next is not None else None
    default: int | None = template.phase_index(following) if following else (
        index + 1 if index + 1 < len(template.phases) else None)
    targets: list[int | None] = [template.phase_index(b.goto) for b in phase.decision or []]
    targets.append(default)
    if phase.ends_process:
        targets.append(None)
    return targets


def _check_reaches_end(template: ProcessTemplate, errors: ErrorCollector) -> None:
    """Every phase the process can reach must have a way to the end (no loop without an exit)."""
    reachable, todo = {0}, [0]
    while todo:
        for target in successors(template, todo.pop()):
            if target is not None and target not in reachable:
                reachable.add(target)
                todo.append(target)
    ends: set[int] = set()
    changed = True
    while changed:
        changed = False
        for i in reachable - ends:
            if any(t is None or t in ends for t in successors(template, i)):
                ends.add(i)
                changed = True
    for i in sorted(reachable - ends):
        errors.add(f"phases[{i}]", f"phase '{template.phases[i].key}' can never reach the end of the process "
                                   "(a loop with no way out)")


def validate_template(raw: dict[str, Any], *, known_users: Collection[str] | None = None,
                      known_templates: Mapping[str, RecordKind] | None = None,
                      known_endpoints: Collection[str] | None = None, known_requests: Collection[str] | None = None,
                      known_signers: Collection[str] | None = None) -> ProcessTemplate:
    """A valid `ProcessTemplate` from a parsed document, or `TemplateInvalid` with every error.

    `known_users`, `known_templates`: as for `check_template`; `None` skips that check.
    """
    try:
        template = ProcessTemplate.model_validate(upgrade_template(raw))
    except ValidationError as exc:
        raise TemplateInvalid(list(pydantic_errors(exc))) from None
    size = len(json.dumps(template.model_dump(mode="json"), separators=(",", ":")).encode())
    if size > MAX_TEMPLATE_JSON_BYTES:
        raise TemplateInvalid([ErrorDetail("", f"the template is {size} bytes as JSON (once its YAML aliases are "
                                                f"expanded); the limit is {MAX_TEMPLATE_JSON_BYTES}")])
    errors = check_template(template, known_users=known_users, known_templates=known_templates,
                            known_endpoints=known_endpoints, known_requests=known_requests,
                            known_signers=known_signers)
    if errors:
        raise TemplateInvalid(errors)
    return template
