"""One `Settings` class for the API, the worker and the command line, read from the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = ""  # default: a SQLite file in data_dir

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "stagecoach"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    # how long Temporal keeps a closed run (the embedded dev server's namespace; Compose: TEMPORAL_RETENTION).
    # Stagecoach lists and shows finished processes from its own database whatever this is.
    temporal_retention_hours: int = Field(168, ge=1)

    # SMTP: without SMTP_HOST, email is kept in the outbox table instead of sent.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_use_tls: bool = False
    smtp_from: str = "stagecoach@localhost"
    smtp_timeout_seconds: float = 15.0

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_url: str = ""  # default: http://{api_host}:{api_port}

    log_level: str = "INFO"
    log_json: bool = True

    # The loop guard: an automatic start (follow-up, autostart) of a template on a record is
    # cancelled when more than this many happened on the same day, in this time zone.
    loop_guard_limit: int = 10
    loop_guard_timezone: str = "UTC"

    # The record-events dispatcher (autostart) also looks for undispatched events this often.
    record_events_sweep_seconds: float = Field(60, gt=0)

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'stagecoach.db'}"
        if not self.public_url:
            self.public_url = f"http://{self.api_host}:{self.api_port}"
        return self

    def temporal_run_url(self, workflow_id: str, run_id: str | None = None) -> str:
        base = f"{self.temporal_ui_url.rstrip('/')}/namespaces/{self.temporal_namespace}/workflows/{workflow_id}"
        return f"{base}/{run_id}/history" if run_id else base


@lru_cache
def get_settings() -> Settings:
    return Settings()
