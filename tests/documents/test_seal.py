"""A PDF signed on the embedded signing page is sealed with the installation's key: the signature validates against
its certificate (made once in DATA_DIR on the dev path, or given as files), covers the whole file and breaks when a
byte it covers changes; what is not a PDF is refused with a clear error (pyHanko's own validator)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from crm.documents.seal import IDENTITY, SealFailed, certificate, seal
from renderer.pdf import html_to_pdf
from settings import Settings


async def validated(sealed: bytes, settings: Settings) -> object:
    [signature] = PdfFileReader(io.BytesIO(sealed), strict=False).embedded_signatures
    return await async_validate_pdf_signature(signature, ValidationContext(trust_roots=[certificate(settings)]))


async def test_a_sealed_pdf_carries_a_signature_that_validates_and_breaks_when_changed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, public_url="http://stagecoach")
    original = html_to_pdf("<h1>Offerta per Villa Rosa</h1><p>Prezzo: 250.000 EUR</p>", title="Offerta")
    sealed = await seal(settings, original, signer_name="client@example.org", reason="Signed by client@example.org")
    assert sealed.startswith(original)  # an incremental update: the bytes signed stay as they were
    status = await validated(sealed, settings)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()  # type: ignore[attr-defined]
    assert status.coverage.name == "ENTIRE_FILE"  # type: ignore[attr-defined]
    assert (tmp_path / IDENTITY).stat().st_mode & 0o077 == 0  # the dev key: its owner's only
    again = await seal(Settings(data_dir=tmp_path), original, signer_name="b@example.org", reason="again")
    assert (await validated(again, settings)).valid  # type: ignore[attr-defined]  # the same key, kept
    changed = sealed.replace(b"250.000", b"150.000") if b"250.000" in sealed else \
        sealed[:200] + bytes([sealed[200] ^ 1]) + sealed[201:]
    assert not (await validated(changed, settings)).intact  # type: ignore[attr-defined]


async def test_a_given_key_and_certificate_seal_and_what_is_not_a_pdf_is_refused(tmp_path: Path) -> None:
    from crm.documents.seal import _self_signed

    pair = _self_signed()
    (tmp_path / "key.pem").write_bytes(pair)
    (tmp_path / "cert.pem").write_bytes(pair[pair.index(b"-----BEGIN CERTIFICATE"):])
    settings = Settings(data_dir=tmp_path / "data", signing_key_file=tmp_path / "key.pem",
                        signing_cert_file=tmp_path / "cert.pem")
    sealed = await seal(settings, html_to_pdf("<p>Contratto</p>"), signer_name="a@example.org", reason="signed")
    assert (await validated(sealed, settings)).valid  # type: ignore[attr-defined]
    assert not (tmp_path / "data" / IDENTITY).exists()  # no self-signed one made beside a given one
    with pytest.raises(SealFailed, match="could not be sealed"):
        await seal(settings, b"not a pdf at all", signer_name="a@example.org", reason="signed")
    with pytest.raises(ValueError, match="go together"):
        Settings(signing_key_file=tmp_path / "key.pem")
