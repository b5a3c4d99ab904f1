"""Who did something is said by name in the console: a user by their name, an API key by its name, Stagecoach's own
actors in the office's language, never `user:3:maria`."""

from __future__ import annotations

from types import SimpleNamespace

from api.console.actors import actor_in
from api.console.i18n import translator


def test_actors_are_said_by_name() -> None:
    """A user the page knows by their name, one it does not by their handle; keys, processes and Stagecoach's own
    in Italian; an actor of no known form as written"""
    _ = translator("it")
    users = {3: SimpleNamespace(name="Maria Rossi")}
    said = {actor: actor_in(_, users, actor) for actor in (
        "user:3:maria", "user:4:luca", "key:12:crm-sync", "process new-lead", "pipeline sales", "loop guard",
        "temporal", "client", "key:x:y", "someone else", "", None)}
    assert said == {"user:3:maria": "Maria Rossi", "user:4:luca": "luca", "key:12:crm-sync": "chiave API “crm-sync”",
                    "process new-lead": "processo new-lead", "pipeline sales": "pipeline sales",
                    "loop guard": "il controllo dei cicli", "temporal": "Temporal (esecuzione annullata lì)",
                    "client": "il cliente", "key:x:y": "key:x:y", "someone else": "someone else", "": "", None: ""}
    assert actor_in(translator("en"), users, "key:12:crm-sync") == "API key “crm-sync”"
