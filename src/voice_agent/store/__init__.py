"""The SQLite store: the database, numbered migrations, one small module per table.

The legacy ``sessions.json`` import returns parsed state; the documented façade over
these tables is :class:`voice_agent.sessions.storage.SessionStorage`.

It may import the standard library and :mod:`voice_agent.store` itself only.
"""
