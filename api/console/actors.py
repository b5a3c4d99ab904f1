"""Who did something, as staff read it: the API and the history keep an actor as a key (`user:3:maria`,
`key:12:crm-sync`, `process new-lead`, `pipeline sales`, `loop guard`); the console says it as a name, in the
office's language (Maria Rossi, chiave API “crm-sync”, processo new-lead, il controllo dei cicli).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from api.fields import digits
from processes.history_words import caller_of

# the actors Stagecoach writes itself, by the word it writes
_FIXED = {"temporal": "Temporal (the run cancelled there)", "loop guard": "the loop guard", "autostart": "autostart",
          "client": "the client", "pipeline": "the pipeline's automation"}
_NAMED = {"process": "process {name}", "pipeline": "pipeline {name}"}


def actor_in(_: Callable[[str], str], users: Mapping[int, Any], actor: str | None) -> str:
    """`actor` as the console says it: a user by their name (their handle if `users` does not hold them), an API key
    by its name, Stagecoach's own by their words; anything else as written."""
    if not actor:
        return ""
    if caller := caller_of(actor):
        kind, number, name = caller
        if kind == "key":
            return _("API key “{name}”").format(name=name)
        user = users.get(number)
        return user.name if user is not None else name
    if actor in _FIXED:
        return _(_FIXED[actor])
    head, _space, name = actor.partition(" ")
    if head in _NAMED and name:
        return _(_NAMED[head]).format(name=name)
    return actor


def user_named(users: Mapping[int, Any]) -> Callable[[str], str]:
    """A user's id, as a summary of what an action did writes it, said by their name where `users` holds them."""
    def named(number: str) -> str:
        user = users.get(int(number)) if digits(number) and len(number) < 19 else None
        return user.name if user is not None else number
    return named
