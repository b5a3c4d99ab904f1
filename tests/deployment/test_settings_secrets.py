"""Secrets from files (Docker secrets, `*_FILE`), with any characters; Temporal TLS settings checked early."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from temporalio.service import TLSConfig

from settings import Settings, SettingsInvalid, get_settings
from workflows.client import tls_options

AWKWARD = "p@ss:w/o%rd #1?&=' \"\\ é"  # every character a URL or a shell would take apart


def test_a_password_from_a_file_keeps_every_character_and_goes_into_the_url(tmp_path: Path) -> None:
    secret = tmp_path / "db_password"
    secret.write_text(AWKWARD + "\n")  # `echo` leaves a newline: not part of the password
    settings = Settings(database_url="postgresql+psycopg://stagecoach@db:5432/stagecoach",
                        database_password_file=secret)
    assert settings.database_password is not None and settings.database_password.get_secret_value() == AWKWARD
    url = make_url(settings.database_url)
    assert (url.username, url.password, url.host, url.database) == ("stagecoach", AWKWARD, "db", "stagecoach")
    assert AWKWARD not in repr(settings)


def test_smtp_password_and_temporal_api_key_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "smtp").write_text("smtp secret")
    (tmp_path / "api_key").write_text("cloud-key\r\n")
    settings = Settings(smtp_password_file=tmp_path / "smtp", temporal_api_key_file=tmp_path / "api_key")
    assert settings.smtp_password is not None and settings.smtp_password.get_secret_value() == "smtp secret"
    assert settings.temporal_api_key is not None and settings.temporal_api_key.get_secret_value() == "cloud-key"


@pytest.mark.parametrize(("fields", "message"), [
    ({"database_password_file": "/nonexistent/db_password"}, "DATABASE_PASSWORD_FILE=/nonexistent/db_password"),
    ({"database_password": "a", "database_password_file": "{tmp}/x"}, "DATABASE_PASSWORD and DATABASE_PASSWORD_FILE"),
    ({"database_url": "postgresql+psycopg://u:inline@db/s", "database_password": "b"}, "DATABASE_URL has a password"),
    ({"temporal_tls_client_cert_file": "{tmp}/x"}, "TEMPORAL_TLS_CLIENT_CERT_FILE and TEMPORAL_TLS_CLIENT_KEY_FILE"),
    ({"temporal_tls_server_ca_file": "/nonexistent/ca.pem"}, "TEMPORAL_TLS_SERVER_CA_FILE=/nonexistent/ca.pem"),
])
def test_a_wrong_secret_setting_says_which_and_why(tmp_path: Path, fields: dict[str, str], message: str) -> None:
    (tmp_path / "x").write_text("x")
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        Settings(**{k: v.replace("{tmp}", str(tmp_path)) for k, v in fields.items()})


def test_the_dev_server_gets_a_plain_connection() -> None:
    assert tls_options(Settings()) == {"tls": False, "api_key": None}


def test_temporal_cloud_with_an_api_key_uses_tls_with_the_system_roots() -> None:
    options = tls_options(Settings(temporal_api_key="cloud-key"))
    assert options["api_key"] == "cloud-key"
    assert options["tls"] == TLSConfig()


def test_mutual_tls_reads_the_ca_certificate_and_key(tmp_path: Path) -> None:
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_bytes(f"--{name}--".encode())
    options = tls_options(Settings(temporal_tls_server_ca_file=tmp_path / "ca.pem",
                                   temporal_tls_client_cert_file=tmp_path / "client.pem",
                                   temporal_tls_client_key_file=tmp_path / "client.key",
                                   temporal_tls_server_name="temporal.internal"))
    assert options["tls"] == TLSConfig(server_root_ca_cert=b"--ca.pem--", client_cert=b"--client.pem--",
                                       client_private_key=b"--client.key--", domain="temporal.internal")


def test_tls_can_be_switched_off_explicitly(tmp_path: Path) -> None:
    assert tls_options(Settings(temporal_tls=False, temporal_api_key="k"))["tls"] is False


def test_webhook_endpoints_and_the_sms_gateway_come_from_files_and_never_show(tmp_path: Path) -> None:
    secret = "whsec_" + "c2VudGluZWwtd2ViaG9vay1zZWNyZXQtMTIzNDU2Nzg="
    (tmp_path / "endpoints").write_text('{"crm": {"url": "https://crm.example.com/h", "secret": "%s", '
                                        '"headers": {"Authorization": "Bearer tok-1"}}}\n' % secret)
    (tmp_path / "gateway").write_text('{"url": "https://sms.example.com/m", "headers": {"X-Key": "gw-key"}}')
    settings = Settings(webhook_endpoints_file=tmp_path / "endpoints", sms_gateway_file=tmp_path / "gateway")
    assert settings.webhook_endpoints["crm"].secret.get_secret_value() == secret
    assert settings.sms_gateway is not None and settings.sms_gateway.headers["X-Key"].get_secret_value() == "gw-key"
    shown = repr(settings)
    assert secret not in shown and "tok-1" not in shown and "gw-key" not in shown
    (tmp_path / "bad").write_text('{"crm": {"url": "https://crm.example.com/h", "secret": "nope"}}')
    with pytest.raises(ValidationError, match="WEBHOOK_ENDPOINTS_FILE=.*whsec_"):
        Settings(webhook_endpoints_file=tmp_path / "bad")


def test_smtp_from_takes_an_address_with_or_without_a_name() -> None:
    named = "Agenzia Rossi <agenzia@rossi.example>"
    assert Settings(smtp_from=named).smtp_from == named
    for wrong in ("Agenzia Rossi", "agenzia@rossi.example\nBcc: x@example.org", ""):
        with pytest.raises(ValidationError, match="is not an address"):
            Settings(smtp_from=wrong)


@pytest.mark.parametrize(("env", "said"), [
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL: 'LOUD' is not a level"),  # the worker had died of it after migrations ran
    ({"API_PORT": "99999"}, "API_PORT: Input should be less than or equal to 65535"),
    ({"DATABASE_URL": "garbage://x"}, "DATABASE_URL: write sqlite+aiosqlite:///PATH or postgresql+psycopg://"),
    ({"PAYLOAD_ENCRYPTION_KEYS": "garbage"}, "PAYLOAD_ENCRYPTION_KEYS[0]: write it as ID:BASE64KEY"),
    ({"LOCALE": "xx", "SMTP_PASSWORD": "S3cr3t-smtp-value"}, "unknown locale 'xx'"),
])
def test_wrong_settings_are_said_by_name_without_their_values(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                                              said: str) -> None:
    """A wrong setting printed a 48-line traceback with pydantic's `input_value`: every setting's value, secrets
    among them, into the container's log"""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsInvalid) as caught:
            get_settings()
    finally:
        get_settings.cache_clear()
    assert str(caught.value.code).startswith(f"stagecoach: the settings cannot be used:\n  {said}")
    assert "S3cr3t" not in str(caught.value.code) and "input_value" not in str(caught.value.code)
