"""HTTP: the FastAPI app, one router per resource, API-key auth, problem+json errors."""
