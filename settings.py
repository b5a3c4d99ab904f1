"""One `Settings` class for the API, the worker and the command line, read from the environment."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (AliasChoices, BaseModel, Field, SecretStr, TypeAdapter, ValidationError, field_validator,
                      model_validator)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

# Secrets that may also come from a file (a Docker secret): NAME_FILE=/run/secrets/name, any characters.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SECRET_FIELDS = ("database_password", "smtp_password", "temporal_api_key", "payload_encryption_keys",
                 "documents_s3_secret_access_key", "client_form_secret", "signing_key_password")


class WebhookEndpoint(BaseModel):
    """Where a `webhook` action posts (WEBHOOK_ENDPOINTS, by name): read by the webhook activity only."""

    url: str = Field(pattern=r"^https?://[^\s/]+", max_length=2000)
    secret: SecretStr  # Standard Webhooks: `whsec_` and base64 (docs/templates.md shows how a receiver checks it)
    headers: dict[str, SecretStr] = {}  # sent with every request (an API token, say); never logged

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        import base64
        import binascii

        try:
            key = base64.b64decode(value.get_secret_value().removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) < 24:
            raise ValueError("a webhook secret is `whsec_` followed by base64 of at least 24 bytes")
        return value


class SmsGateway(BaseModel):
    """The HTTP gateway the `send_sms` action posts to (SMS_GATEWAY); without it, SMS are kept in the outbox."""

    url: str = Field(pattern=r"^https?://[^\s/]+", max_length=2000)
    headers: dict[str, SecretStr] = {}  # the gateway's credentials (an Authorization header, say)
    sender: str = Field("", max_length=40)  # the `from` the gateway shows, where it allows one
    # the JSON posted: keys to values, where `{to}`, `{text}`, `{from}` and `{reference}` are replaced
    payload: dict[str, str] = {"to": "{to}", "text": "{text}", "from": "{from}", "reference": "{reference}"}
    message_id_field: str = "id"  # where the gateway's answer (JSON) holds its message id, if anywhere


class SigningProvider(BaseModel):
    """A signing provider the `request_signature` action sends documents to (SIGNING_PROVIDERS, by name), over HTTP
    (`activities/signing/providers.py`, docs/templates.md "E-signature")."""

    url: str = Field(pattern=r"^https?://[^\s/]+", max_length=2000)  # POSTed the envelope (JSON)
    api_key: SecretStr  # sent as `Authorization: Bearer ...`
    secret: SecretStr  # signs its callbacks (Standard Webhooks: `whsec_` and base64)
    # POSTed when Stagecoach cancels an envelope (its phase skipped, its process aborted or ended); `{envelope_id}` is
    # replaced in it by the envelope's id. Without it a cancelled request is cancelled in Stagecoach only.
    cancel_url: str | None = Field(None, pattern=r"^https?://[^\s/]+", max_length=2000)

    _secret = field_validator("secret")(WebhookEndpoint._secret.__func__)  # type: ignore[attr-defined]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = ""  # default: a SQLite file in data_dir
    # Connections each API process keeps open to the database, and how many more it opens while busy (and closes
    # again): below the requests served at once, every busy moment opens and closes connections.
    database_pool_size: int = Field(10, ge=1, le=200)
    # A pooled connection idle longer than this is pinged before it is used again (PostgreSQL); 0 pings every time.
    database_ping_after_idle_seconds: float = Field(1.0, ge=0, le=3600)
    database_password: SecretStr | None = None  # put into DATABASE_URL, escaped (for passwords kept out of URLs)
    database_password_file: Path | None = None

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "stagecoach"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    # Secured clusters and Temporal Cloud (docs/deployment.md). TLS is on when any of these is set,
    # unless TEMPORAL_TLS=false; TEMPORAL_TLS=true alone uses the system's CA certificates.
    temporal_tls: bool | None = None
    temporal_tls_server_ca_file: Path | None = None
    temporal_tls_client_cert_file: Path | None = None
    temporal_tls_client_key_file: Path | None = None
    temporal_tls_server_name: str | None = None
    temporal_api_key: SecretStr | None = None
    temporal_api_key_file: Path | None = None
    # `id:base64key,...` (AES-256; the first encrypts, all decrypt): payloads encrypted in Temporal (workflows/codec.py)
    payload_encryption_keys: SecretStr | None = None
    payload_encryption_keys_file: Path | None = None
    # how long Temporal keeps a closed run (the embedded dev server's namespace; Compose: TEMPORAL_RETENTION).
    # Stagecoach lists and shows finished processes from its own database whatever this is.
    temporal_retention_hours: int = Field(168, ge=1)

    # SMTP: without SMTP_HOST, email is kept in the outbox table instead of sent.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_password_file: Path | None = None
    smtp_starttls: bool = False
    smtp_use_tls: bool = False
    smtp_from: str = "stagecoach@localhost"
    smtp_timeout_seconds: float = 15.0

    # Webhooks (the `webhook` action): endpoints by name, as JSON
    # ({"crm": {"url": "https://...", "secret": "whsec_...", "headers": {"Authorization": "Bearer ..."}}}).
    webhook_endpoints: dict[str, WebhookEndpoint] = {}
    webhook_endpoints_file: Path | None = None  # the same JSON in a file (a Docker secret)
    webhook_connect_timeout_seconds: float = Field(5.0, gt=0)
    webhook_read_timeout_seconds: float = Field(15.0, gt=0)
    # Outbound requests (webhooks, the SMS gateway) to loopback, private, link-local, multicast and other
    # non-public addresses are refused, unless the host is named here (a JSON list: ["crm.office.lan"]).
    outbound_allowed_hosts: list[str] = []
    # SMS (the `send_sms` action): without SMS_GATEWAY they are kept in the outbox, readable over the API.
    sms_gateway: SmsGateway | None = None
    sms_gateway_file: Path | None = None  # the same JSON in a file (a Docker secret)
    sms_default_region: str = "IT"  # the country of numbers written without +, when the record names none
    # E-signature (the `request_signature` action): providers by name, as JSON ({"acme": {"url": "https://...",
    # "api_key": "...", "secret": "whsec_..."}}); `embedded` (the API's own signing page) needs none.
    signing_providers: dict[str, SigningProvider] = {}
    signing_providers_file: Path | None = None  # the same JSON in a file (a Docker secret)
    # how old a provider's callback may be (its webhook-timestamp), either way, before it is refused
    signing_callback_tolerance_seconds: float = Field(300, gt=0, le=3600)
    # a provider's cancel call still failing after its step's retries is tried again by the record-events
    # dispatcher's sweep: first this long after, then after as long as it has been failing, up to the maximum
    signing_cancel_retry_seconds: float = Field(300, gt=0)
    signing_cancel_retry_max_seconds: float = Field(3600, gt=0)
    # the key and certificate (PEM) the embedded signing page seals signed PDFs with (crm/documents/seal.py);
    # default: a self-signed pair made once in DATA_DIR/signing_identity.pem
    signing_key_file: Path | None = None
    signing_cert_file: Path | None = None
    signing_key_password: SecretStr | None = None
    signing_key_password_file: Path | None = None

    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    public_url: str = ""  # default: http://{api_host}:{api_port}

    # An API key found valid is trusted this long without reading its row again (a key revoked through another
    # API process is refused once this has passed; through this one, at once). 0: read every time.
    api_key_cache_seconds: float = Field(5.0, ge=0, le=300)
    # A staff request to a running process, or a read of its live state, waits this long for the process to
    # answer (a worker must take it): past it, 503 and nothing held (no worker running, or every one stuck).
    process_answer_seconds: float = Field(20.0, gt=0, le=300)

    # A request body over this many bytes is refused (413) before it is read.
    max_body_bytes: int = Field(1_000_000, ge=1024)
    # A CSV sent to import (POST /imports/{kind}) may be this large; it is streamed to a file in DATA_DIR/imports.
    max_import_bytes: int = Field(200_000_000, ge=1024)

    # A document uploaded (POST /records/{id}/documents) may be this large; kept in DOCUMENTS_DIR,
    # DATA_DIR/documents by default.
    max_document_bytes: int = Field(50_000_000, ge=1024)
    documents_dir: Path | None = None
    # Documents in an S3-compatible bucket instead (AWS S3, MinIO...): the bucket, and where and how to reach it.
    # Without the keys, boto3's own chain (AWS_* variables, an instance role) is used.
    documents_s3_bucket: str = ""
    documents_s3_prefix: str = ""  # e.g. "stagecoach/": the keys are <prefix><record id>/<random>
    documents_s3_endpoint_url: str | None = None  # MinIO and others; AWS: none
    documents_s3_region: str | None = None
    documents_s3_access_key_id: str | None = None
    documents_s3_secret_access_key: SecretStr | None = None
    documents_s3_secret_access_key_file: Path | None = None

    # Client requests (crm/client_requests): a link's token is good for this many days unless the request says
    # otherwise; a file a client uploads may be at most this large (a template's own limit may be lower).
    client_request_expiry_days: int = Field(14, ge=1, le=3650)
    client_request_max_file_bytes: int = Field(20_000_000, ge=1024)
    # the whole form a client posts (all its files): refused (413) before it is read when declared larger
    client_request_max_body_bytes: int = Field(60_000_000, ge=1024)
    # the key that signs the form's CSRF tokens; default: a random one kept in DATA_DIR/client_form_secret
    client_form_secret: SecretStr | None = None
    client_form_secret_file: Path | None = None
    # a client address that sends this many unknown tokens within the window gets 429 until it passes
    client_form_guess_limit: int = Field(20, ge=1)
    client_form_guess_window_seconds: float = Field(600, gt=0)

    log_level: str = "INFO"
    log_json: bool = True

    # The installation's time zone (an IANA name such as Europe/Rome): the loop guard's "day", the dates
    # emails and messages show, and an email's Date header. LOOP_GUARD_TIMEZONE, its former name, still works.
    timezone: str = Field("UTC", validation_alias=AliasChoices("TIMEZONE", "LOOP_GUARD_TIMEZONE", "timezone"))

    # The categories a task made by hand may have (TASK_CATEGORIES, as JSON: '["call", "visit"]').
    task_categories: list[str] = Field(default_factory=lambda: ["call", "email", "meeting", "deadline", "follow-up",
                                                                "other"])

    # The loop guard: an automatic start (follow-up, autostart) of a template on a record is
    # cancelled when more than this many happened on the same day (in TIMEZONE).
    loop_guard_limit: int = 10

    # The worker rewrites this file while it reaches Temporal and the database (worker_health.py).
    worker_health_file: Path | None = None
    worker_health_interval_seconds: float = Field(10, gt=0)

    # How much one worker takes on at once (the Temporal SDK's defaults; docs/deployment.md, "Worker tuning"):
    # steps running at once, workflow tasks running at once, and processes kept in memory between their tasks
    # (0: every task replays its process's history, slower but with no memory held).
    worker_max_concurrent_activities: int = Field(100, ge=1, le=10_000)
    worker_max_concurrent_workflow_tasks: int = Field(100, ge=2, le=10_000)
    worker_max_cached_workflows: int = Field(1000, ge=0, le=1_000_000)

    # host:port where the worker serves its Prometheus metrics (the Temporal SDK's and Stagecoach's); off when empty
    worker_metrics_address: str | None = None

    # OpenTelemetry: traces go to this OTLP/HTTP collector (http://collector:4318); off when empty (tracing.py)
    otel_exporter_otlp_endpoint: str | None = None

    # The office's language for text (dates, numbers, money) unless a template says otherwise.
    locale: str = "en"

    # User text is rendered (and templates are checked) in this many child processes (and two more: one for
    # text not seen yet, one for text that went over its bounds), each capped at this much memory per render.
    render_processes: int = Field(2, ge=1, le=32)
    render_memory_mb: int = Field(256, ge=64, le=65_536)

    # The record-events dispatcher (autostart) also looks for undispatched events this often.
    record_events_sweep_seconds: float = Field(60, gt=0)

    # An import job still `validating` or `importing` with no sign of life for this long was left behind by an API
    # that stopped during it: the API's sweep (every IMPORT_SWEEP_SECONDS) marks it failed (crm/imports/sweep.py).
    import_stale_seconds: float = Field(600, gt=0)
    import_sweep_seconds: float = Field(60, gt=0)
    # An import's file holds the office's contacts: it is removed once the import ends, and its rejected rows (to be
    # downloaded, fixed and sent again) this many days after it ended.
    import_rejected_days: int = Field(30, ge=1, le=3650)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"'{value}' is not a level: {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("write sqlite+aiosqlite:///PATH or postgresql+psycopg://USER@HOST:5432/DATABASE (empty: "
                             "a SQLite file in DATA_DIR)")
        return value

    @field_validator("smtp_from")
    @classmethod
    def _sender(cls, value: str) -> str:
        """An address, with or without a display name (`Agenzia Rossi <agenzia@rossi.example>`)."""
        address = parseaddr(value)[1]
        if "@" not in address or "\n" in value or "\r" in value:
            raise ValueError(f"'{value}' is not an address: write name@example.com or "
                             "Agenzia Rossi <name@example.com>")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' (an IANA name such as Europe/Rome or UTC)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def show(self, moment: datetime | None, locale: str | None = None) -> str:
        """A date and time as the product shows it to people: in TIMEZONE, written in `locale`'s way (LOCALE's unless
        given), with the zone's name: "30 nov 2026 10:15 CET", "Nov 30, 2026 9:15 AM UTC" (a naive moment is UTC)."""
        if moment is None:
            return "-"
        from processes.formatting import brief_date_and_time, parse_locale

        local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(self.zone)
        return f"{brief_date_and_time(local, parse_locale(locale or self.locale))} {local:%Z}"

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        from processes.formatting import parse_locale

        parse_locale(self.locale)  # ValueError: "unknown locale 'xx'"
        for name in SECRET_FIELDS:
            self._read_secret_file(name)
        self._read_json_file("webhook_endpoints", TypeAdapter(dict[str, WebhookEndpoint]))
        self._read_json_file("sms_gateway", TypeAdapter(SmsGateway))
        self._read_json_file("signing_providers", TypeAdapter(dict[str, SigningProvider]))
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'stagecoach.db'}"
        if self.database_password is not None:
            url = make_url(self.database_url)
            if url.password is not None:
                raise ValueError("DATABASE_URL has a password and DATABASE_PASSWORD is set too: keep only one")
            self.database_url = url.set(password=self.database_password.get_secret_value()).render_as_string(
                hide_password=False)
        if (self.signing_key_file is None) != (self.signing_cert_file is None):
            raise ValueError("SIGNING_KEY_FILE and SIGNING_CERT_FILE go together")
        for name in ("signing_key_file", "signing_cert_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name.upper()}={path}: no such file")
        if (self.temporal_tls_client_cert_file is None) != (self.temporal_tls_client_key_file is None):
            raise ValueError("TEMPORAL_TLS_CLIENT_CERT_FILE and TEMPORAL_TLS_CLIENT_KEY_FILE go together")
        for name in ("temporal_tls_server_ca_file", "temporal_tls_client_cert_file", "temporal_tls_client_key_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name.upper()}={path}: no such file")
        if not self.public_url:
            self.public_url = f"http://{self.api_host}:{self.api_port}"
        if self.payload_encryption_keys is not None:
            from workflows.codec import parse_keyring

            parse_keyring(self.payload_encryption_keys.get_secret_value())  # KeyringInvalid says where, never the key
        return self

    def _read_secret_file(self, name: str) -> None:
        path: Path | None = getattr(self, f"{name}_file")
        if path is None:
            return
        if getattr(self, name) is not None:
            raise ValueError(f"{name.upper()} and {name.upper()}_FILE are both set: keep only one")
        try:
            value = path.read_text(encoding="utf-8").rstrip("\r\n")  # the newline `echo` leaves, nothing else
        except OSError as exc:
            raise ValueError(f"{name.upper()}_FILE={path}: {exc.strerror or exc}") from None
        setattr(self, name, SecretStr(value))

    def _read_json_file(self, name: str, adapter: TypeAdapter[Any]) -> None:
        """WEBHOOK_ENDPOINTS_FILE, SMS_GATEWAY_FILE: the setting's JSON (secrets inside) read from a file."""
        path: Path | None = getattr(self, f"{name}_file")
        if path is None:
            return
        if getattr(self, name):
            raise ValueError(f"{name.upper()} and {name.upper()}_FILE are both set: keep only one")
        try:
            setattr(self, name, adapter.validate_json(path.read_bytes()))
        except OSError as exc:
            raise ValueError(f"{name.upper()}_FILE={path}: {exc.strerror or exc}") from None
        except ValidationError as exc:
            raise ValueError(f"{name.upper()}_FILE={path}: {exc.errors(include_url=False)[0]['msg']} at "
                             f"{'.'.join(map(str, exc.errors()[0]['loc'])) or 'the top'}") from None

    def temporal_run_url(self, workflow_id: str, run_id: str | None = None) -> str:
        base = f"{self.temporal_ui_url.rstrip('/')}/namespaces/{self.temporal_namespace}/workflows/{workflow_id}"
        return f"{base}/{run_id}/history" if run_id else base


class SettingsInvalid(SystemExit):
    """Settings that cannot be used, said one per line with the setting's name (`LOG_LEVEL: ...`), never with the
    values given (a secret among them), and without a traceback: the process exits with status 1."""

    def __init__(self, error: ValidationError) -> None:
        lines = []
        for detail in error.errors(include_input=False, include_url=False, include_context=False):
            name = ".".join(str(part) for part in detail["loc"]).upper()
            message = detail["msg"].removeprefix("Value error, ")
            lines.append(f"  {name}: {message}" if name else f"  {message}")
        super().__init__("stagecoach: the settings cannot be used:\n" + "\n".join(lines))


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsInvalid(exc) from None
