"""Payload encryption: what Stagecoach hands to Temporal is AES-GCM encrypted (keys rotate by key id), a
history exported from Temporal holds no personal text in the clear, and the codec server decodes it."""

from __future__ import annotations

import base64
import os
import uuid
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.contrib.pydantic import pydantic_data_converter

from cli.codec_server import codec_app
from tests.deployment.served import served
from tests.e2e.conftest import MailCatcher
from tests.polling import eventually
from tests.serving import free_port, serving
from workflows.codec import ENCODING, EncryptionCodec, KeyringInvalid, data_converter, parse_keyring


def new_key(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


TEMPLATE = """
key: {key}
name: Private matters
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: hello
    name: Hello
    responsible: record_owner
    actions:
      - send_email: {{to: record_contact, subject: "Hello", body: "About {sentinel}, {{{{ record.title }}}}"}}
  - key: call
    name: Call
    responsible: record_owner
    completion: manual
"""


async def test_a_payload_round_trips_and_an_old_key_still_decodes_after_rotation() -> None:
    old, new = new_key("2026-01"), new_key("2026-12")
    payload = Payload(metadata={"encoding": b"json/plain"}, data=b'"Maria Rossi, +39 333 1234567"')
    sealed = await EncryptionCodec(parse_keyring(old)).encode([payload])
    assert sealed[0].metadata["encoding"] == ENCODING and b"Maria" not in sealed[0].data
    rotated = EncryptionCodec(parse_keyring(f"{new},{old}"))
    assert await rotated.decode(sealed) == [payload]
    assert (await rotated.encode([payload]))[0].metadata["encryption-key-id"] == b"2026-12"
    with pytest.raises(ValueError, match="key '2026-01', which PAYLOAD_ENCRYPTION_KEYS does not list"):
        await EncryptionCodec(parse_keyring(new)).decode(sealed)
    assert data_converter(None) is pydantic_data_converter


@pytest.mark.parametrize(("keyring", "message"), [
    ("nocolon", r"PAYLOAD_ENCRYPTION_KEYS\[0\]: write it as ID:BASE64KEY"),
    ("k1:not base64!", r"\[0\] \(k1\): the key is not base64"),
    (f"k1:{base64.b64encode(b'short').decode()}", r"the key is 5 bytes, AES-256 needs 32"),
    (f"{new_key('k1')},{new_key('k1')}", r"\[1\]: the id k1 is listed twice"),
], ids=["no colon", "not base64", "short key", "an id twice"])  # the same ids in every process (pytest-xdist)
def test_a_wrong_keyring_says_what_and_where(keyring: str, message: str) -> None:
    with pytest.raises(KeyringInvalid, match=message):
        parse_keyring(keyring)


async def test_no_personal_text_reaches_temporal_in_the_clear(
        dev_env: Any, sessions: Any, database_url: str, smtp: tuple[MailCatcher, int], task_queue: str) -> None:
    sentinel = f"SENTINEL{uuid.uuid4().hex}"
    keyring = new_key("k1")
    async with served(dev_env, sessions, database_url, smtp, task_queue, payload_encryption_keys=keyring) as stack:
        http, admin = stack.http, stack.admin
        _, workflow_id, email = await stack.start(TEMPLATE, f"Flat of {sentinel}", sentinel=sentinel)
        await eventually(lambda: http_ok(http, f"/processes/{workflow_id}", admin, "call"), what="the manual phase")
        assert sentinel in stack.mail.to(email)[0].get_content()
        aborted = await http.post(f"/processes/{workflow_id}/abort", headers=admin,
                                  json={"reason": f"the client {sentinel} moved away"})
        assert aborted.status_code == 200, aborted.text
        assert aborted.json()["end_reason"] == f"the client {sentinel} moved away"  # Stagecoach reads it back

    # what Temporal stores, read without the key: no sentinel anywhere, encrypted payloads instead
    history = await dev_env.client.get_workflow_handle(workflow_id).fetch_history()
    exported = history.to_json()
    assert sentinel not in exported
    assert base64.b64encode(ENCODING).decode() in exported
    started_event = history.events[0].workflow_execution_started_event_attributes
    assert all(p.metadata["encoding"] == ENCODING for p in started_event.input.payloads)

    # the codec server, as the Temporal UI calls it, gives the engineer with the key the clear text back
    codec = EncryptionCodec(parse_keyring(keyring))
    codec_port = free_port()
    async with serving(codec_app(codec, ["http://127.0.0.1:8080"]), codec_port), httpx.AsyncClient() as http:
        body = json_format.MessageToJson(Payloads(payloads=started_event.input.payloads))
        decoded = await http.post(f"http://127.0.0.1:{codec_port}/decode", content=body,
                                  headers={"Content-Type": "application/json", "Origin": "http://127.0.0.1:8080",
                                           "X-Namespace": "default"})
        assert decoded.status_code == 200 and decoded.headers["access-control-allow-origin"] == "http://127.0.0.1:8080"
        clear = json_format.Parse(decoded.text, Payloads()).payloads
        assert sentinel.encode() in clear[0].data
        refused = await http.post(f"http://127.0.0.1:{codec_port}/decode", content=b"{not json")
        assert refused.status_code == 400


async def http_ok(http: httpx.AsyncClient, path: str, headers: dict[str, str], phase: str) -> bool:
    return (await http.get(path, headers=headers)).json().get("current_phase") == phase
