"""Encryption of everything Stagecoach hands to Temporal, so that Temporal keeps no personal data in clear text.

With PAYLOAD_ENCRYPTION_KEYS set, every payload (workflow and step inputs and results, updates, signals,
queries, and failure messages and stack traces) is encrypted with AES-256-GCM before it leaves the
process. The first key encrypts; every key listed decrypts, so a key can be replaced without losing
the runs it encrypted: put the new one first, keep the old one after it until those runs are gone.
Each encrypted payload names its key id. `stagecoach codec-server` decodes them for the Temporal UI.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class KeyringInvalid(ValueError):
    """PAYLOAD_ENCRYPTION_KEYS is not a list of `id:base64-of-32-bytes`."""


def parse_keyring(text: str) -> dict[str, bytes]:
    """`id:base64key,id:base64key` (the first encrypts) into an ordered mapping; says what is wrong where."""
    keys: dict[str, bytes] = {}
    for position, item in enumerate(part.strip() for part in text.split(",")):
        key_id, sep, encoded = item.partition(":")
        where = f"PAYLOAD_ENCRYPTION_KEYS[{position}]"
        if not sep or not key_id.strip():
            raise KeyringInvalid(f"{where}: write it as ID:BASE64KEY")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            raise KeyringInvalid(f"{where} ({key_id}): the key is not base64") from None
        if len(key) != 32:
            raise KeyringInvalid(f"{where} ({key_id}): the key is {len(key)} bytes, AES-256 needs 32 "
                                 "(make one with `openssl rand -base64 32`)")
        if key_id in keys:
            raise KeyringInvalid(f"{where}: the id {key_id} is listed twice")
        keys[key_id.strip()] = key
    return keys


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: dict[str, bytes]) -> None:
        if not keys:
            raise KeyringInvalid("PAYLOAD_ENCRYPTION_KEYS: no key")
        self.key_id = next(iter(keys))
        self.ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self.ciphers[self.key_id]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            data = nonce + cipher.encrypt(nonce, payload.SerializeToString(), self.key_id.encode())
            encoded.append(Payload(metadata={"encoding": ENCODING, KEY_ID: self.key_id.encode()}, data=data))
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)  # written before encryption was switched on
                continue
            key_id = payload.metadata[KEY_ID].decode()
            cipher = self.ciphers.get(key_id)
            if cipher is None:
                raise ValueError(f"payload encrypted with key '{key_id}', which PAYLOAD_ENCRYPTION_KEYS does not list")
            nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
            decoded.append(Payload.FromString(cipher.decrypt(nonce, sealed, key_id.encode())))
        return decoded


def data_converter(keyring: str | None) -> DataConverter:
    """The pydantic data converter; with keys, encrypting payloads and failure messages too."""
    if not keyring:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(parse_keyring(keyring)),
                               failure_converter_class=DefaultFailureConverterWithEncodedAttributes)
