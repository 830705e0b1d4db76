"""State only the Telegram front end has, on the store's SQLite database.

The core (sessions, store) never reads these tables: the approval prompts still
showing buttons (:mod:`.open_prompts`, so a restart marks them lapsed) and each
chat's preferences (:mod:`.chat_settings`, spoken replies and the footer). The
front end builds them from :attr:`SessionStorage.database
<voice_agent.sessions.storage.SessionStorage.database>`; their tables are created by
the store's numbered migrations like every other (one schema, one file).

The owners made by pairing stay in :mod:`voice_agent.store.owners_table`
(``storage.owners``): the access gate, ``voice-agent doctor`` and the tests read
them through the store. The forum topics' bindings stay in
:mod:`voice_agent.store.topics_table`: a binding points at a session's row, and the
session manager serves each topic's session.

May import: ``voice_agent.store`` (the database), nothing of ``telegram`` above it.
"""
