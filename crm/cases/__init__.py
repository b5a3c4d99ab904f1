"""Cases: a shared matter (a record of kind `case`) with participants, tags and an open/closed state.

A case is a `Record` (kind `case`, its name the record's title), so restricted access, history,
processes and tasks are the record's own; the tables here add what only a case has.
"""
