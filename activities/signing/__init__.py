"""E-signature: the `request_signature` action (`request.py`) and the signing providers (`providers.py`)."""
