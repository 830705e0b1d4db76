"""Schema of the session store: numbered migrations recorded in ``PRAGMA user_version``.

Each migration is a function appended to ``MIGRATIONS`` by the ``migration``
decorator; ``migrate`` runs the ones a database has not seen yet, each in its
own transaction. A test migrates an empty database and checks the exact schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]

MIGRATIONS: list[Migration] = []


def migration(func: Migration) -> Migration:
    """Register ``func`` as the next numbered migration.

    Args:
        func: Applies one schema change to an open connection.

    Returns:
        The function unchanged.
    """
    MIGRATIONS.append(func)
    return func


@migration
def _initial(conn: sqlite3.Connection) -> None:
    """Chats, sessions, sticky rules and the audit log."""
    _run_script(
        conn,
        """
        CREATE TABLE chats (
            chat_id INTEGER PRIMARY KEY,
            active_session TEXT NOT NULL
        );
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            cwd TEXT NOT NULL,
            created_at TEXT NOT NULL,
            message_count INTEGER NOT NULL DEFAULT 0,
            claude_session_id TEXT,
            permission_mode TEXT NOT NULL DEFAULT 'default',
            UNIQUE (chat_id, name)
        );
        CREATE TABLE sticky_rules (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            tool_name TEXT NOT NULL,
            pattern TEXT,
            field_name TEXT,
            label TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX sticky_rules_by_session ON sticky_rules (session_id);
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            chat_id INTEGER,
            user_id INTEGER,
            session_name TEXT,
            tool_name TEXT NOT NULL,
            input_summary TEXT NOT NULL,
            decision TEXT NOT NULL,
            rule TEXT
        );
        CREATE INDEX audit_log_by_chat_time ON audit_log (chat_id, ts);
        CREATE INDEX audit_log_by_time ON audit_log (ts);
        """,
    )


@migration
def _owners(conn: sqlite3.Connection) -> None:
    """Owners made by pairing (the bot's first user when no allowlist is set)."""
    _run_script(
        conn,
        """
        CREATE TABLE owners (
            user_id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            paired_at TEXT NOT NULL
        );
        """,
    )


@migration
def _chat_settings(conn: sqlite3.Connection) -> None:
    """Per-chat preferences set from the phone (e.g. spoken replies)."""
    _run_script(
        conn,
        """
        CREATE TABLE chat_settings (
            chat_id INTEGER NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (chat_id, key)
        );
        """,
    )


@migration
def _usage(conn: sqlite3.Connection) -> None:
    """What each finished turn cost: for footers, totals and daily budgets."""
    _run_script(
        conn,
        """
        CREATE TABLE usage (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            chat_id INTEGER NOT NULL,
            session_name TEXT NOT NULL,
            cost_usd REAL NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            duration_ms INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX usage_by_chat_time ON usage (chat_id, ts);
        """,
    )


@migration
def _open_prompts(conn: sqlite3.Connection) -> None:
    """Approval prompts on screen, so a restart can mark them lapsed."""
    _run_script(
        conn,
        """
        CREATE TABLE open_prompts (
            request_id TEXT PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            message_id INTEGER NOT NULL,
            text TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """,
    )


@migration
def _sticky_scopes(conn: sqlite3.Connection) -> None:
    """Sticky rules that expire, and rules for a whole project."""
    _run_script(
        conn,
        """
        ALTER TABLE sticky_rules ADD COLUMN expires_at REAL;
        ALTER TABLE sticky_rules ADD COLUMN project TEXT;
        """,
    )


@migration
def _topics(conn: sqlite3.Connection) -> None:
    """Forum topics bound to sessions: each topic of a forum works in its own session."""
    _run_script(
        conn,
        """
        CREATE TABLE topics (
            chat_id INTEGER NOT NULL,
            thread_id INTEGER NOT NULL,
            session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            title TEXT,
            PRIMARY KEY (chat_id, thread_id)
        );
        CREATE INDEX topics_by_session ON topics (session_id);
        """,
    )


@migration
def _project_rules_outlive_sessions(conn: sqlite3.Connection) -> None:
    """Project rules belong to the chat, not to the session that made them.

    ``sticky_rules`` gets a ``chat_id`` and a nullable ``session_id`` (SQLite
    cannot relax NOT NULL in place, so the table is rebuilt); project rules lose
    their session, so closing it no longer drops them.
    """
    _run_script(
        conn,
        """
        CREATE TABLE sticky_rules_new (
            id INTEGER PRIMARY KEY,
            session_id INTEGER REFERENCES sessions (id) ON DELETE CASCADE,
            tool_name TEXT NOT NULL,
            pattern TEXT,
            field_name TEXT,
            label TEXT,
            created_at TEXT NOT NULL,
            expires_at REAL,
            project TEXT,
            chat_id INTEGER NOT NULL
        );
        INSERT INTO sticky_rules_new (id, session_id, tool_name, pattern, field_name, label,
            created_at, expires_at, project, chat_id)
            SELECT r.id, CASE WHEN r.project IS NULL THEN r.session_id END, r.tool_name,
                r.pattern, r.field_name, r.label, r.created_at, r.expires_at, r.project, s.chat_id
            FROM sticky_rules r JOIN sessions s ON s.id = r.session_id;
        DROP TABLE sticky_rules;
        ALTER TABLE sticky_rules_new RENAME TO sticky_rules;
        CREATE INDEX sticky_rules_by_session ON sticky_rules (session_id);
        CREATE INDEX sticky_rules_by_chat ON sticky_rules (chat_id, project);
        """,
    )


@migration
def _schedules(conn: sqlite3.Connection) -> None:
    """Scheduled prompts (``/schedule``), so they survive a restart.

    A schedule points at its session's row: it follows a rename, and a closed
    session leaves it pointing nowhere (it is then cancelled, never run elsewhere).
    """
    _run_script(
        conn,
        """
        CREATE TABLE schedules (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            thread_id INTEGER,
            user_id INTEGER,
            session_id INTEGER REFERENCES sessions (id) ON DELETE SET NULL,
            session_name TEXT NOT NULL,
            prompt TEXT NOT NULL,
            spec TEXT NOT NULL,
            next_run TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX schedules_by_chat ON schedules (chat_id);
        """,
    )


@migration
def _machines(conn: sqlite3.Connection) -> None:
    """Several machines: the machine each session lives on, and turns running on others.

    A session with no row lives on the machine that runs the bot. A row of
    ``remote_turns`` is a turn sent to another machine whose end the bot has not
    shown yet: after a restart the bot picks its stream up again.
    """
    _run_script(
        conn,
        """
        CREATE TABLE session_machines (
            session_id INTEGER PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
            machine TEXT NOT NULL
        );
        CREATE TABLE remote_turns (
            turn_id TEXT PRIMARY KEY,
            machine TEXT NOT NULL,
            chat_id INTEGER NOT NULL,
            session_name TEXT NOT NULL,
            started_at TEXT NOT NULL
        );
        """,
    )


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated statements inside the caller's transaction.

    ``executescript`` would commit first, so statements run one by one.
    """
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def schema_version(conn: sqlite3.Connection) -> int:
    """Return the number of migrations applied to ``conn``'s database."""
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


class SchemaTooNew(Exception):
    """The store was written by a newer voice-agent: it is kept as it is, never migrated."""


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration the database has not seen, each in one transaction.

    The version is read again inside each migration's write transaction, so two
    processes opening a new store at once apply each migration once: the second
    finds it done.

    Args:
        conn: A connection in autocommit mode (``isolation_level=None``).

    Returns:
        The schema version after migrating.

    Raises:
        SchemaTooNew: The database is newer than this program.
    """
    _check_known(schema_version(conn))
    while schema_version(conn) < len(MIGRATIONS):
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = schema_version(conn)  # another process may have migrated meanwhile
            _check_known(current)
            if current < len(MIGRATIONS):
                MIGRATIONS[current](conn)
                conn.execute(f"PRAGMA user_version = {current + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return len(MIGRATIONS)


def _check_known(version: int) -> None:
    if version > len(MIGRATIONS):
        raise SchemaTooNew(
            f"store schema version {version} is newer than this voice-agent "
            f"({len(MIGRATIONS)}); upgrade voice-agent"
        )
