"""Sealing the PDF a signer signed on the embedded signing page: a PDF signature (pyHanko, CMS with SHA-256) made
with the installation's key, so that the kept document carries a signature any PDF reader verifies, and any change
made after it shows.

The key and its certificate: SIGNING_KEY_FILE and SIGNING_CERT_FILE (PEM; SIGNING_KEY_PASSWORD when the key is
encrypted), say an office's certificate from a CA its readers trust. Without them (the dev path) a self-signed one
is made once in DATA_DIR (`signing_identity.pem`: the key and the certificate, mode 0600; written aside and then
linked, so that two processes starting at once keep the same one): a reader then sees the document intact and
who sealed it, but trusts the certificate only when told to. The signature names the signer and says when they
signed, through which request; the signing itself runs in a thread (it hashes the whole PDF).
"""

from __future__ import annotations

import asyncio
import io
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from settings import Settings

IDENTITY = "signing_identity.pem"
FIELD = "StagecoachSignature"
_SIGNERS: dict[tuple[str, ...], signers.SimpleSigner] = {}  # by where the key comes from: loaded once per process


class SealFailed(Exception):
    """The PDF could not be sealed (it is not a PDF pyHanko can update, or the key does not load)."""


def _blocks(pem: bytes, kind: bytes) -> bytes:
    """The PEM blocks of one kind (`CERTIFICATE`, `PRIVATE KEY`...) in a file that may hold several kinds."""
    out, inside = [], False
    for line in pem.splitlines(keepends=True):
        if line.startswith(b"-----BEGIN ") and kind in line:
            inside = True
        if inside:
            out.append(line)
        if line.startswith(b"-----END ") and kind in line:
            inside = False
    return b"".join(out)


def _self_signed() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Stagecoach signing page (self-signed)"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stagecoach")])
    now = datetime.now(UTC)
    usage = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
                   .not_valid_after(now + timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(usage, critical=True).sign(key, hashes.SHA256()))
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()) + certificate.public_bytes(serialization.Encoding.PEM)


def _kept_identity(path: Path) -> bytes:
    """The self-signed identity in `path`; made first if missing (aside, then linked: another process reads it
    whole, and of two made at once the first linked is the one)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(_self_signed())
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
        finally:
            aside.unlink()
    return path.read_bytes()


def identity(settings: Settings) -> tuple[bytes, bytes, bytes | None]:
    """The sealing key (PEM), its certificate (PEM) and the key's password."""
    if settings.signing_key_file is not None and settings.signing_cert_file is not None:
        password = settings.signing_key_password.get_secret_value().encode() \
            if settings.signing_key_password is not None else None
        return settings.signing_key_file.read_bytes(), settings.signing_cert_file.read_bytes(), password
    kept = _kept_identity(Path(settings.data_dir).resolve() / IDENTITY)
    return kept, kept, None


def certificate(settings: Settings) -> asn1_x509.Certificate:
    """The certificate documents are sealed under (what a reader is told to trust, on the dev path)."""
    return _signer(settings).signing_cert


def _signer(settings: Settings) -> signers.SimpleSigner:
    where = (str(settings.signing_key_file), str(settings.signing_cert_file), str(Path(settings.data_dir).resolve()))
    if (kept := _SIGNERS.get(where)) is not None:
        return kept
    key_pem, cert_pem, password = identity(settings)
    try:
        key = serialization.load_pem_private_key(_blocks(key_pem, b"PRIVATE KEY"), password)
        cert = x509.load_pem_x509_certificate(_blocks(cert_pem, b"CERTIFICATE"))
    except (ValueError, TypeError) as exc:
        raise SealFailed(f"the sealing key or certificate does not load: {exc}") from None
    der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    signing_cert = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    signer = signers.SimpleSigner(signing_cert=signing_cert, signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
                                  cert_registry=SimpleCertificateStore.from_certs([signing_cert]))
    _SIGNERS[where] = signer
    return signer


async def seal(settings: Settings, pdf: bytes, *, signer_name: str, reason: str) -> bytes:
    """`pdf` with a PDF signature of the installation's key added (an incremental update: the bytes signed stay as
    they were); `SealFailed` when it cannot be."""
    sealer = _signer(settings)

    def sign() -> bytes:
        meta = signers.PdfSignatureMetadata(field_name=FIELD, md_algorithm="sha256", name=signer_name[:200],
                                            reason=reason[:500], location=settings.public_url[:200] or None)
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        return signers.sign_pdf(writer, meta, signer=sealer).getvalue()  # type: ignore[no-any-return]

    try:
        return await asyncio.to_thread(sign)
    except SealFailed:
        raise
    except Exception as exc:  # pyHanko's errors about the PDF (PdfReadError, PdfWriteError, SigningError...)
        raise SealFailed(f"the PDF could not be sealed: {type(exc).__name__}: {exc}") from None
