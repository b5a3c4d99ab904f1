"""Where user text is rendered and templates are checked: child processes with a memory cap and a wall-clock kill.

`pool.RenderPool` (in the worker and in the API) keeps a few `child` processes and sends them
renders, conditions and template checks over pipes, so a hostile text costs its own step and
never the event loop that runs everyone else's steps and heartbeats.
"""
