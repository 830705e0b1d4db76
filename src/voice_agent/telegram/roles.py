"""Who may widen what runs unasked: approvers only, refused the same way everywhere.

People who may chat and people who may approve are separate (``APPROVER_USER_IDS``,
see :class:`voice_agent.access.AccessGate`). A chatter may prompt Claude, but
every step that decides a tool call, widens what runs without asking, or reads
past the usual policy needs an approver: Approve / Always / Reject and decisions
in words, ``/mode``, ``/cwd``, ``/get``, ``/diff`` and their buttons, revoking rules.
:func:`refusal` is the one check: it logs the attempt, writes it to the audit log
as ``refused`` and gives the reply ("Only an approver can …").
"""

from __future__ import annotations

import logging

from voice_agent.store.records import AuditEntry
from voice_agent.telegram.services import Services, Where

logger = logging.getLogger(__name__)

DECIDE = "decide tool calls here"
"""The action of a decision (a button press or words), for :func:`refusal`."""
_SUMMARY_LIMIT = 200


def refusal(
    svc: Services, where: Where, action: str, attempt: str, session: str | None = None
) -> str | None:
    """Refuse ``attempt`` unless its sender may approve.

    Args:
        svc: The shared state (the access gate and the store's audit log).
        where: Who asked, in which chat.
        action: What only an approver can do, completing "Only an approver can …"
            (e.g. "change the permission mode").
        attempt: What was tried, for the log and the audit log (``/mode acceptEdits``,
            ``decision by voice``).
        session: The session it was meant for, when there is one.

    Returns:
        None when the sender may approve (go ahead); else the refusal to show them,
        after the attempt was logged and audited as ``refused``.
    """
    if svc.gate.may_approve(where.user_id):
        return None
    summary = " ".join(attempt.split())[:_SUMMARY_LIMIT]
    logger.warning(
        "user %s may not approve (chat %s): %s refused", where.user_id, where.chat_id, summary
    )
    storage = svc.manager.storage
    if storage is not None:
        storage.audit.record(
            AuditEntry(
                tool_name="-",
                input_summary=f"{summary} refused",
                decision="refused",
                chat_id=where.chat_id,
                user_id=where.user_id,
                session_name=session,
                rule="not an approver",
            )
        )
    return f"Only an approver can {action}."
