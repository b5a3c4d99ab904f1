"""Connecting to a secured Temporal with the TLS settings: a TLS proxy requiring client certificates (made here
with openssl, signed by a CA of the test's own) in front of the dev server, as a secured cluster would be."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from settings import Settings
from tests.serving import free_port, pipe
from workflows.client import connect

SERVER_NAME = "temporal.stagecoach.test"


def make_certificates(directory: Path) -> None:
    """A CA, and a server and a client certificate it signs (EC P-256, valid one day)."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=60)

    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=Stagecoach test CA")
    for name, usage, san in (("server", "serverAuth", f"DNS:{SERVER_NAME}"), ("client", "clientAuth", "DNS:worker")):
        run("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        (directory / f"{name}.ext").write_text(f"subjectAltName={san}\nextendedKeyUsage={usage}\n")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext")


@contextlib.asynccontextmanager
async def tls_proxy(directory: Path, upstream: str) -> AsyncIterator[int]:
    """Mutual TLS (HTTP/2 by ALPN) on a free port, forwarding the decrypted stream to the plain dev server."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(directory / "ca.pem"))
    context.load_cert_chain(directory / "server.pem", directory / "server.key")
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    host, port = upstream.rsplit(":", 1)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    listen = free_port()
    server = await asyncio.start_server(serve, "127.0.0.1", listen, ssl=context)
    try:
        yield listen
    finally:
        server.close()


@pytest.fixture
async def secured(dev_env: Any, tmp_path: Path) -> AsyncIterator[tuple[Path, str]]:
    make_certificates(tmp_path)
    async with tls_proxy(tmp_path, dev_env.client.service_client.config.target_host) as port:
        yield tmp_path, f"127.0.0.1:{port}"


async def test_mutual_tls_with_the_ca_client_certificate_and_server_name(secured: tuple[Path, str]) -> None:
    pki, address = secured
    settings = Settings(temporal_address=address, temporal_tls_server_ca_file=pki / "ca.pem",
                        temporal_tls_client_cert_file=pki / "client.pem",
                        temporal_tls_client_key_file=pki / "client.key", temporal_tls_server_name=SERVER_NAME)
    client = await asyncio.wait_for(connect(settings), 60)
    assert await client.service_client.check_health()
    assert (await client.count_workflows()).count >= 0


@pytest.mark.parametrize("missing", ["client certificate", "server name", "CA"])
async def test_without_one_of_the_tls_settings_the_connection_is_refused(secured: tuple[Path, str],
                                                                         missing: str) -> None:
    pki, address = secured
    fields: dict[str, Any] = {
        "temporal_tls_server_ca_file": pki / "ca.pem", "temporal_tls_server_name": SERVER_NAME,
        "temporal_tls_client_cert_file": pki / "client.pem", "temporal_tls_client_key_file": pki / "client.key"}
    if missing == "client certificate":
        del fields["temporal_tls_client_cert_file"], fields["temporal_tls_client_key_file"]
    elif missing == "server name":
        del fields["temporal_tls_server_name"]  # the certificate names another host than 127.0.0.1
    else:
        del fields["temporal_tls_server_ca_file"]  # the system's CAs do not know the test's
    with pytest.raises(RuntimeError, match="[Cc]onnect"):
        await asyncio.wait_for(connect(Settings(temporal_address=address, **fields)), 60)
