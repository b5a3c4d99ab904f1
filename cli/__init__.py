"""The `stagecoach` command line: talks to the HTTP API, and starts the embedded stack."""
