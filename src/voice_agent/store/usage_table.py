"""What turns cost, kept in the store: per-turn rows, totals by chat, session and day."""

from __future__ import annotations

from dataclasses import dataclass

from voice_agent.store.database import Database, utc_now


@dataclass(frozen=True)
class UsageTotals:
    """Sums over some turns.

    Attributes:
        turns: How many turns.
        cost_usd: Their cost as the CLI reported it.
        input_tokens: Input tokens (cache reads and writes included).
        output_tokens: Output tokens.
    """

    turns: int = 0
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0


class UsageTable:
    """One row per finished turn."""

    def __init__(self, db: Database) -> None:
        """Use the store's database.

        Args:
            db: The open database.
        """
        self._db = db

    def record(
        self,
        chat_id: int,
        session_name: str,
        cost_usd: float,
        input_tokens: int,
        output_tokens: int,
        duration_ms: int,
    ) -> None:
        """Add one finished turn."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO usage (ts, chat_id, session_name, cost_usd, input_tokens, "
                "output_tokens, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    utc_now(),
                    chat_id,
                    session_name,
                    cost_usd,
                    input_tokens,
                    output_tokens,
                    duration_ms,
                ),
            )

    def totals(
        self, chat_id: int, session_name: str | None = None, since: str | None = None
    ) -> UsageTotals:
        """Sums for a chat (and session), optionally from an ISO time on.

        Args:
            chat_id: The chat.
            session_name: Only this session.
            since: Only turns at or after this ISO timestamp (e.g. today's date).
        """
        sql = (
            "SELECT count(*), coalesce(sum(cost_usd), 0), coalesce(sum(input_tokens), 0), "
            "coalesce(sum(output_tokens), 0) FROM usage WHERE chat_id = ?"
        )
        params: list[object] = [chat_id]
        if session_name is not None:
            sql += " AND session_name = ?"
            params.append(session_name)
        if since is not None:
            sql += " AND ts >= ?"
            params.append(since)
        row = self._db.query(sql, tuple(params))[0]
        return UsageTotals(int(row[0]), float(row[1]), int(row[2]), int(row[3]))
