"""What an approval prompt shows: the call's details as Markdown, and its buttons.

Bash shows the command; Edit a unified diff where the change is in the file
(real line numbers and context, :mod:`voice_agent.edit_preview`); Write the path, size and first
lines; WebFetch the URL; any other tool its input. Hidden characters (control,
bidi, zero-width) are written out as escapes (:func:`voice_agent.visible.reveal`)
and the prompt says the call holds some. Nothing is cut silently: when a
command, diff, file or input is longer than one prompt can show, the prompt shows
its beginning and end, says "the whole command is in the attached file", and
:class:`PromptView` carries the whole of it as an :class:`Attachment`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from voice_agent.edit_preview import planned_diff, shown_name, snippet_diff, split_lines
from voice_agent.sessions.decisions import KEEP_PLANNING, is_plan
from voice_agent.sessions.pending import PendingPermission, PermissionState
from voice_agent.telegram.callbacks import Kind, encode
from voice_agent.telegram.render import utf16_len
from voice_agent.visible import HIDDEN_NOTE, escape_char, has_hidden, reveal

DETAIL_LIMIT = 2500
"""Most of a call's details one prompt shows (UTF-16 units, as Telegram counts); the
whole comes as a file."""
HEAD = 1800
"""Units shown from the start of details that do not fit (the rest of the room
goes to their end, where a surprise would hide)."""
TAIL = DETAIL_LIMIT - HEAD
PROSE_LIMIT = 300
"""Longest description or question shown (Claude's words about a call, not the call)."""
PROMPT_ROOM = 3500
"""Most UTF-16 units of details that leave room in one message for the header and outcome."""

# Requests that ended without a decision, and how the prompt explains it.
NOT_RUN = {
    "Cancelled": "the turn was stopped",
    "The session was closed": "the session was closed (or the bot stopped)",
    "The turn ended": "the turn ended",
    "Interrupted by the user": "the turn was stopped",
}
WRITE_PREVIEW_LINES = 15

_LANGUAGES = {
    ".py": "python",
    ".js": "javascript",
    ".ts": "typescript",
    ".tsx": "tsx",
    ".sh": "bash",
    ".rs": "rust",
    ".go": "go",
    ".json": "json",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".md": "markdown",
    ".html": "html",
    ".css": "css",
    ".sql": "sql",
}


@dataclass(frozen=True)
class Attachment:
    """The whole of a call's details that did not fit its prompt, sent as a file.

    Attributes:
        filename: The file's name (``approval-3.sh``, ``approval-3.diff``, ``….txt``).
        data: Its content: the details in full, hidden characters written out.
        what: What it holds ("command", "change", "content", "plan", "input"), for people.
    """

    filename: str
    data: bytes
    what: str


@dataclass(frozen=True)
class PromptView:
    """An approval prompt: its Markdown, and the file to send with it when needed.

    Attributes:
        markdown: The prompt's text.
        attachment: The whole of what the text could not show, or None.
    """

    markdown: str
    attachment: Attachment | None = None


def _fence(body: str, language: str = "") -> str:
    """A fenced code block longer than any run of backticks in ``body`` (never broken)."""
    longest = run = 0
    for char in body:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{body}\n{ticks}"


def _shown(char: str) -> str:
    if char == "\n":
        return char
    return escape_char(char) or char


def _take(chars: Iterable[str], budget: int) -> list[str]:
    """Shown characters from ``chars`` until ``budget`` UTF-16 units are spent (whole escapes)."""
    out: list[str] = []
    for char in chars:
        piece = _shown(char)
        budget -= utf16_len(piece)
        if budget < 0:
            break
        out.append(piece)
    return out


class _Details:
    """Builds one prompt's details; what does not fit is kept whole for a file."""

    def __init__(self, number: int) -> None:
        self._number = number
        self.attachment: Attachment | None = None

    def inline(self, text: str, limit: int | None = None) -> str:
        """``text`` on one line, hidden characters written out, cut at ``limit`` with "…"."""
        shown = reveal(text, keep_newlines=False).text
        if limit is not None and utf16_len(shown) > limit:
            shown = "".join(_take(text, limit - 1)) + "…"
        return shown

    def block(
        self, body: str, language: str, what: str, suffix: str, *, max_lines: int | None = None
    ) -> str:
        """``body`` fenced, or, when it does not fit, its beginning and end and a note.

        The whole of a body that does not fit becomes the prompt's attachment.

        Args:
            body: The details (a command, a diff, a file's content…).
            language: The fence's language.
            what: What it is, for the note ("command").
            suffix: The attachment's file name ending (".sh").
            max_lines: Show at most this many lines (a preview); more makes a file too.
        """
        whole = reveal(body).text
        lines = split_lines(whole)
        size = utf16_len(whole)
        if size <= DETAIL_LIMIT and (max_lines is None or len(lines) <= max_lines):
            return _fence(whole.removesuffix("\n"), language)
        note = f"the whole {what} is in the attached file"
        if max_lines is not None and len(lines) > max_lines:
            head = "\n".join(lines[:max_lines])
            if utf16_len(head) > DETAIL_LIMIT:
                head = "".join(_take(body, DETAIL_LIMIT))
            more = len(lines) - max_lines
            shown = f"{head}\n… {more} more line{'s' if more != 1 else ''}: {note}"
        else:
            start = "".join(_take(body, HEAD))
            end = "".join(reversed(_take(reversed(body), TAIL)))
            hidden = len(whole) - len(start) - len(end)
            shown = f"{start}\n… {hidden:,} characters not shown: {note} …\n{end}"
        self.attachment = Attachment(f"approval-{self._number}{suffix}", whole.encode(), what)
        return _fence(shown, language)


def edit_diff(
    tool: str,
    data: Mapping[str, Any],
    shown: str,
    file_text: str | None,
    placed: str | None = None,
) -> str:
    """The unified diff an Edit or MultiEdit will make, where it is in the file.

    With the file's text (:func:`voice_agent.edit_preview.read_target`) the hunks
    carry its own line numbers and context; without it, or when an ``old_string``
    is not found, each replacement is diffed alone.

    Args:
        tool: ``Edit`` or ``MultiEdit``.
        data: The call's input.
        shown: The file's name as the diff header shows it.
        file_text: The file's current text, or None.
        placed: The diff already placed where the file is (another machine), if any.
    """
    placed = placed or planned_diff(tool, data, shown, file_text)
    if placed is not None:
        return placed
    edits = [data] if tool == "Edit" else data.get("edits", [])
    return "\n".join(
        snippet_diff(shown, str(e.get("old_string", "")), str(e.get("new_string", "")))
        for e in edits
        if isinstance(e, Mapping)
    )


def _details(
    tool: str,
    data: Mapping[str, Any],
    cwd: str | None,
    out: _Details,
    file_text: str | None,
    placed: str | None = None,
) -> str:
    path = str(data.get("file_path") or data.get("notebook_path") or "")
    relative = shown_name(path, cwd)
    shown = out.inline(relative)
    if tool == "Bash":
        about = data.get("description")
        note = f"\n_{out.inline(str(about), PROSE_LIMIT)}_" if about else ""
        command = out.block(str(data.get("command", "")), "bash", "command", ".sh")
        return f"💻 *Run command*{note}\n{command}"
    if tool == "Edit":
        diff = edit_diff(tool, data, relative, file_text, placed)
        return f"✏️ *Edit* `{shown}`\n{out.block(diff, 'diff', 'change', '.diff')}"
    if tool == "MultiEdit":
        count = len([e for e in data.get("edits", []) if isinstance(e, Mapping)])
        diff = edit_diff(tool, data, relative, file_text, placed)
        block = out.block(diff, "diff", "change", ".diff")
        return f"✏️ *Edit* `{shown}` ({count} changes)\n{block}"
    if tool == "Write":
        content = str(data.get("content", ""))
        language = _LANGUAGES.get(os.path.splitext(path)[1], "")
        size = f"{len(split_lines(content))} lines, {len(content.encode())} bytes"
        block = out.block(content, language, "content", ".txt", max_lines=WRITE_PREVIEW_LINES)
        return f"📝 *Write* `{shown}` ({size})\n{block}"
    if tool == "WebFetch":
        url = str(data.get("url", ""))
        question = data.get("prompt")
        asking = f"\n_{out.inline(str(question), PROSE_LIMIT)}_" if question else ""
        if len(url) > PROSE_LIMIT:
            return f"🌐 *Fetch*{asking}\n{out.block(url, '', 'URL', '.txt')}"
        return f"🌐 *Fetch* {out.inline(url)}{asking}"
    if tool == "ExitPlanMode":
        plan = str(data.get("plan", "")).strip()
        if not plan:  # Claude Code keeps the plan in its own file: it is in the answer above
            return "📋 *Claude's plan is ready* (above). Start working on it?"
        if utf16_len(reveal(plan).text) > DETAIL_LIMIT:
            return f"📋 *Claude's plan*\n{out.block(plan, 'markdown', 'plan', '.md')}"
        return f"📋 *Claude's plan*\n\n{reveal(plan).text}"
    if tool == "NotebookEdit":
        source = out.block(str(data.get("new_source", "")), "", "cell", ".txt")
        return f"📓 *Edit notebook* `{shown}`\n{source}"
    return _as_json(tool, data, out)


def _as_json(tool: str, data: Mapping[str, Any], out: _Details) -> str:
    body = json.dumps(dict(data), indent=2, ensure_ascii=False, default=str)
    return f"🔧 *{out.inline(tool, PROSE_LIMIT)}*\n{out.block(body, 'json', 'input', '.json')}"


def prompt_view(
    request: PendingPermission,
    cwd: str | None,
    session_label: str = "",
    file_text: str | None = None,
) -> PromptView:
    """The approval prompt for ``request``, and the file to send with it when needed.

    Args:
        request: The pending request.
        cwd: The session's working directory (paths are shown relative to it).
        session_label: The session's name, shown when the chat has several.
        file_text: The current text of the file an Edit changes
            (:func:`voice_agent.edit_preview.read_target`): its diff then shows the
            file's own line numbers and context. ``request.placed_diff`` (placed on
            the machine that has the file) is used in its stead when set.

    Returns:
        The prompt's Markdown; with an attachment when some details did not fit
        (the prompt then says which are in the attached file).
    """
    where = f" · {session_label}" if session_label else ""
    out = _Details(request.number)
    placed = request.placed_diff
    details = _details(request.tool_name, request.input_data, cwd, out, file_text, placed)
    if utf16_len(details) > PROMPT_ROOM:  # something shown inline (a path?) is too long
        out = _Details(request.number)
        details = _as_json(request.tool_name, request.input_data, out)
    lines = [f"🔐 *Approval #{request.number}*{where}"]
    if has_hidden(request.input_data):
        lines.append(f"*{HIDDEN_NOTE}*")
    if out.attachment is not None:
        lines.append(f"📎 _The whole {out.attachment.what} is in the attached file._")
    lines.append(details)
    return PromptView("\n".join(lines), out.attachment)


def prompt_markdown(request: PendingPermission, cwd: str | None, session_label: str = "") -> str:
    """The approval prompt for ``request`` as Markdown (see :func:`prompt_view`).

    Args:
        request: The pending request.
        cwd: The session's working directory (paths are shown relative to it).
        session_label: The session's name, shown when the chat has several.
    """
    return prompt_view(request, cwd, session_label).markdown


def outcome_line(request: PendingPermission, who: str = "") -> str:
    """One line saying how a request ended, for the edited prompt."""
    by = f" by {who}" if who else ""
    if request.state is PermissionState.APPROVED and request.updated_input is not None:
        answers = request.updated_input.get("answers") or {}
        return f"✅ *Answered*{by}: " + "; ".join(str(a) for a in answers.values())
    if request.state is PermissionState.APPROVED and request.sticky is not None:
        return f"♾ *Always approved*{by}: {request.sticky.describe()}"
    if request.state is PermissionState.APPROVED:
        return f"✅ *Plan approved*{by}" if is_plan(request) else f"✅ *Approved*{by}"
    if request.state is PermissionState.TIMEOUT:
        return "⌛ *Timed out* — denied"
    reason = request.deny_message or "denied"
    if reason == "User rejected":
        return f"❌ *Rejected*{by}"
    if reason in NOT_RUN:
        return f"⏹ *Not run*: {NOT_RUN[reason]}"
    if is_plan(request) and reason.startswith(KEEP_PLANNING):
        told = reason.removeprefix(KEEP_PLANNING).strip()
        return f"✏️ *Keep planning*{by}" + (f": {told}" if told else "")
    return f"❌ *Denied*{by}: {reason}"


def keyboard(request: PendingPermission) -> InlineKeyboardMarkup:
    """Approve / Always / Reject buttons carrying the request id (for a plan: approve or not)."""
    rid = request.request_id
    if request.tool_name == "ExitPlanMode":
        return InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        "✅ Approve plan", callback_data=encode(Kind.APPROVE, rid)
                    ),
                    InlineKeyboardButton("✏️ Keep planning", callback_data=encode(Kind.REJECT, rid)),
                ]
            ]
        )
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ Approve", callback_data=encode(Kind.APPROVE, rid)),
                InlineKeyboardButton("♾ Always", callback_data=encode(Kind.ALWAYS, rid)),
                InlineKeyboardButton("❌ Reject", callback_data=encode(Kind.REJECT, rid)),
            ]
        ]
    )


def scope_keyboard(request: PendingPermission) -> InlineKeyboardMarkup:
    """How far "Always" goes: this session or this project, until revoked or for an hour."""
    rid = request.request_id

    def button(label: str, scope: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=encode(Kind.SCOPE, f"{scope}:{rid}"))

    return InlineKeyboardMarkup(
        [
            [button("♾ This session", "s"), button("⏱ Session, 1 hour", "s1")],
            [button("📁 This project", "p"), button("⏱ Project, 1 hour", "p1")],
            [InlineKeyboardButton("← Back", callback_data=encode(Kind.BACK, rid))],
        ]
    )


def _questions(request: PendingPermission) -> list[Mapping[str, Any]]:
    raw = request.input_data.get("questions")
    return [q for q in raw if isinstance(q, Mapping)] if isinstance(raw, list) else []


def question_markdown(request: PendingPermission, session_label: str = "") -> str:
    """Claude's ``AskUserQuestion`` as Markdown: each question with its numbered options."""
    where = f" · {session_label}" if session_label else ""
    lines = [f"❓ *Claude asks*{where}"]
    for question in _questions(request):
        header = f"*{question.get('header')}* " if question.get("header") else ""
        lines.append(f"\n{header}{question.get('question', '')}")
        for number, option in enumerate(question.get("options") or [], start=1):
            if isinstance(option, Mapping):
                note = f" — {option['description']}" if option.get("description") else ""
                lines.append(f"{number}. {option.get('label', '')}{note}")
    return "\n".join(lines)


DONE = "done"
"""The option token of a multi-select question's Done button."""


@dataclass
class Choices:
    """What the user picked so far under an ``AskUserQuestion`` prompt.

    Attributes:
        picked: The options chosen, by question.
        done: Questions that are answered (a multi-select one once Done is pressed).
    """

    picked: dict[int, set[int]] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)

    def press(self, request: PendingPermission, question: int, option: str) -> bool:
        """Record a press: an option (toggled in a multi-select question) or ``done``.

        Returns:
            False when the press names no option of the request (nothing changes).
        """
        questions = _questions(request)
        if not 0 <= question < len(questions):
            return False
        multi = bool(questions[question].get("multiSelect"))
        if option == DONE:
            if not (multi and self.picked.get(question)):
                return False
            self.done.add(question)
            return True
        count = len(questions[question].get("options") or [])
        if not option.isdigit() or int(option) >= count:
            return False
        if not multi:
            self.picked[question] = {int(option)}
            self.done.add(question)
        else:
            self.picked.setdefault(question, set()).symmetric_difference_update({int(option)})
            self.done.discard(question)
        return True


def _label(option: object) -> str:
    return str(option.get("label", "")) if isinstance(option, Mapping) else str(option)


def question_keyboard(request: PendingPermission, choices: Choices) -> InlineKeyboardMarkup:
    """Option buttons per question (chosen ones marked), Done under a multi-select one, Skip."""
    rid = request.request_id
    rows = []
    for qi, question in enumerate(_questions(request)):
        row = []
        chosen = choices.picked.get(qi, set())
        for oi, option in enumerate(question.get("options") or []):
            mark = "✅ " if oi in chosen else ""
            data = encode(Kind.ANSWER, f"{qi}.{oi}:{rid}")
            row.append(InlineKeyboardButton(f"{mark}{_label(option)}"[:40], callback_data=data))
        rows.append(row)
        if question.get("multiSelect"):
            done = "☑️ Done" if qi not in choices.done else "✔️ Done"
            data = encode(Kind.ANSWER, f"{qi}.{DONE}:{rid}")
            rows.append([InlineKeyboardButton(done, callback_data=data)])
    rows.append([InlineKeyboardButton("✖️ Skip", callback_data=encode(Kind.REJECT, rid))])
    return InlineKeyboardMarkup(rows)


def answers_for(request: PendingPermission, choices: Choices) -> dict[str, str] | None:
    """Question text → chosen label(s), once every question is answered.

    A multi-select question's labels are joined with ", " in the options' order.
    """
    questions = _questions(request)
    if len(choices.done) < len(questions):
        return None
    answers = {}
    for qi, question in enumerate(questions):
        options = question.get("options") or []
        labels = [_label(options[oi]) for oi in sorted(choices.picked.get(qi, set()))]
        answers[str(question.get("question", ""))] = ", ".join(labels)
    return answers
