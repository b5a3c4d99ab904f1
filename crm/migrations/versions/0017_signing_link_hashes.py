"""embedded signing links: keep only the SHA-256 of their tokens (envelope ids and deliveries' provider ids)

Before this, the embedded provider kept its signing link's token in clear as the request's `envelope_id` (and as
its delivery's `provider_id`); the signing page now looks a token up by its SHA-256 (hex), as client requests' links
are. The tokens already emailed are hashed here, so live links keep working. A value that is a SHA-256 already (64
hex digits; a token is 43 URL-safe characters) is left as it is, so running this twice changes nothing.

There is no way back: a downgrade leaves the hashes, and links emailed before it stop opening on the older code.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 11:40:00.000000
"""
import hashlib
import json
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0017'
down_revision: Union[str, None] = '0016'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _hashed(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()  # crm.client_requests.store


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, envelope_id FROM signature_request WHERE provider = 'embedded'")).all()
    for row_id, envelope_id in rows:
        if not _hashed(envelope_id):
            bind.execute(sa.text("UPDATE signature_request SET envelope_id = :hashed WHERE id = :id"),
                         {"hashed": _hash(envelope_id), "id": row_id})
    deliveries = bind.execute(sa.text("SELECT id, body, provider_id FROM delivery WHERE kind = 'request_signature' "
                                      "AND provider_id IS NOT NULL")).all()
    for row_id, body, provider_id in deliveries:
        try:
            provider = json.loads(body).get("provider")
        except (ValueError, AttributeError):
            continue
        if provider == "embedded" and not _hashed(provider_id):
            bind.execute(sa.text("UPDATE delivery SET provider_id = :hashed WHERE id = :id"),
                         {"hashed": _hash(provider_id), "id": row_id})


def downgrade() -> None:
    pass  # a hash cannot be undone (see above)
