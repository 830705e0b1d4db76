"""A session's uncommitted changes on another machine: ``/diff`` through the protocol.

The worker runs the same hardened :mod:`voice_agent.workdir_diff` as the bot does
for its own machine (git without the repository's programs, secret-looking files
left out, bounded output) in the session's directory there, and answers with a
:class:`~voice_agent.machines.protocol.DiffReply`. The reply is capped so it fits
a NATS message even on a server with the default 1 MB limit: at most
``MAX_DIFF_FILES`` files and ``MAX_DIFF_TEXT`` bytes of diff (then ``cut``, as a
diff too long for a document is). The hub turns it back into the same
``WorkdirDiff`` / ``FileDiff`` the phone's ``/diff`` shows.
"""

from __future__ import annotations

from voice_agent.machines.protocol import DiffFile, DiffReply
from voice_agent.workdir_diff import ChangedFile, FileDiff, WorkdirDiff

MAX_DIFF_TEXT = 512 * 1024
"""Bytes of diff text a reply carries at most (UTF-8)."""
MAX_DIFF_FILES = 1000
"""Changed files a reply lists at most."""
MAX_REPLY_BYTES = 900 * 1024
"""The encoded reply stays under this (JSON escapes can make the text longer)."""


def _cut(text: str, limit: int) -> tuple[str, bool]:
    data = text.encode()
    if len(data) <= limit:
        return text, False
    kept = data[:limit].decode(errors="ignore")
    return kept[: kept.rfind("\n") + 1] or kept, True


def diff_reply(found: WorkdirDiff | FileDiff | str) -> DiffReply:
    """The worker's answer for what :mod:`voice_agent.workdir_diff` found (capped).

    Args:
        found: A working tree's changes, one file's, or why there are none.
    """
    if isinstance(found, str):
        return DiffReply(ok=False, error=found[:2000])
    limit = MAX_DIFF_TEXT
    while True:
        text, cut = _cut(found.text, limit)
        if isinstance(found, FileDiff):
            reply = DiffReply(ok=True, path=found.path, text=text, cut=found.cut or cut)
        else:
            files = [
                DiffFile(
                    path=f.path,
                    status=f.status,
                    staged=f.staged,
                    unstaged=f.unstaged,
                    added=f.added,
                    removed=f.removed,
                )
                for f in found.files[:MAX_DIFF_FILES]
            ]
            reply = DiffReply(
                ok=True,
                top=found.top,
                files=files,
                text=text,
                cut=found.cut or cut,
                untracked_shown=found.untracked_shown,
                not_shown=list(found.not_shown[:MAX_DIFF_FILES]),
                left_out=list(found.left_out[:MAX_DIFF_FILES]),
                listing_cut=found.listing_cut or len(found.files) > MAX_DIFF_FILES,
            )
        if len(reply.encode()) <= MAX_REPLY_BYTES or limit < 1024:
            return reply
        limit //= 2


def found_of(reply: DiffReply) -> WorkdirDiff | FileDiff | str:
    """What a worker's :class:`DiffReply` says, as the phone's ``/diff`` shows it."""
    if not reply.ok:
        return reply.error or "the machine could not show the changes"
    if reply.path is not None:
        return FileDiff(reply.path, reply.text, reply.cut)
    files = tuple(
        ChangedFile(f.path, f.status, f.staged, f.unstaged, f.added, f.removed) for f in reply.files
    )
    return WorkdirDiff(
        reply.top,
        files,
        reply.text,
        reply.cut,
        reply.untracked_shown,
        tuple(reply.not_shown),
        tuple(reply.left_out),
        reply.listing_cut,
    )
