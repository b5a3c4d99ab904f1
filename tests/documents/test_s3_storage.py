"""Documents kept in an S3-compatible bucket (DOCUMENTS_S3_BUCKET), over HTTP end to end.

The bucket is served by moto's S3 server (a local HTTP server speaking the S3 protocol, not AWS): boto3
talks to it over the network as it would to MinIO or AWS S3.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.documents.conftest import serve
from tests.documents.files import pdf
from tests.serving import free_port


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


async def test_documents_round_trip_through_an_s3_bucket(dev_env: Any, sessions: Any, database_url: str,
                                                         task_queue: str, tmp_path: Path, s3_endpoint: str) -> None:
    """Upload, a new version, downloads byte for byte and delete, with the bytes in the bucket and none on disk"""
    bucket = f"docs-{uuid.uuid4().hex[:8]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="key",
                          aws_secret_access_key="secret")
    client.create_bucket(Bucket=bucket)

    def objects() -> dict[str, bytes]:
        listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        return {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}

    async with serve(dev_env, sessions, database_url, task_queue, tmp_path, documents_s3_bucket=bucket,
                     documents_s3_prefix="stagecoach/", documents_s3_endpoint_url=s3_endpoint,
                     documents_s3_region="us-east-1", documents_s3_access_key_id="key",
                     documents_s3_secret_access_key="secret") as api:
        staff = api.as_("staff")
        record = (await api.http.post("/records", headers=api.as_("admin"),
                                      json={"kind": "lead", "title": "In the bucket"})).json()
        first, second = pdf(), pdf()
        created = await api.http.post(f"/records/{record['id']}/documents", headers=staff,
                                      files={"file": ("Perizia è già pronta.pdf", first, "application/pdf")})
        assert created.status_code == 201, created.text
        url = created.json()["download_url"]
        assert (await api.http.post(f"{url}/versions", headers=staff,
                                    files={"file": ("perizia v2.pdf", second)})).status_code == 201
        assert sorted(objects().values()) == sorted([first, second])
        assert all(key.startswith(f"stagecoach/{record['id']}/") for key in objects())
        refused = await api.http.post(f"{url}/versions", headers=staff, files={"file": ("perizia.pdf", b"MZ\x90")})
        assert refused.status_code == 415 and len(objects()) == 2

        current = await api.http.get(url, headers=staff)
        assert current.content == second and current.headers["content-type"] == "application/pdf"
        assert (await api.http.get(f"{url}/versions/1", headers=staff)).content == first
        assert api.files() == []  # nothing in the folder

        assert (await api.http.delete(url, headers=staff)).status_code == 204
        assert objects() == {}
