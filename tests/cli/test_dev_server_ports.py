"""`make run` starts the dev server again when a port it picked itself was taken before it bound it (its HTTP API's
or metrics' port, random and free when picked): only that start's part of the log is read, so an earlier start's
lost port does not make a later failure look like one."""

from __future__ import annotations

from pathlib import Path

from cli.embedded import _lost_a_port


def test_a_lost_port_is_read_from_this_start_of_the_log_only(tmp_path: Path) -> None:
    log = tmp_path / "temporal.log"
    log.write_bytes(b'Error: failed starting server: listen tcp 127.0.0.1:7243: bind: address already in use\n')
    since = log.stat().st_size
    assert _lost_a_port(log, 0)
    assert not _lost_a_port(log, since)
    with log.open("ab") as file:
        file.write(b"Error: failed starting server: unable to open database file\n")
    assert not _lost_a_port(log, since)
