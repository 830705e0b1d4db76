"""What an approval prompt shows: the call's details as Markdown, and its buttons.

Bash shows the command; Edit a unified diff; Write the path, size and first
lines; WebFetch the URL; any other tool its input. Long details are cut so the
prompt stays within one Telegram message.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from voice_agent.sessions.pending import PendingPermission, PermissionState
from voice_agent.telegram.callbacks import Kind, encode

DETAIL_LIMIT = 2500

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


def _fence(body: str, language: str = "") -> str:
    if len(body) > DETAIL_LIMIT:
        body = body[:DETAIL_LIMIT] + "\n… (cut)"
    body = body.replace("```", "``\u200b`")
    return f"```{language}\n{body}\n```"


def _relative(path: str, cwd: str | None) -> str:
    if cwd and os.path.isabs(path):
        relative = os.path.relpath(path, cwd)
        if not relative.startswith(".."):
            return relative
    return path


def edit_diff(path: str, old: str, new: str) -> str:
    """A unified diff of one replacement in ``path``."""
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), fromfile=path, tofile=path, lineterm="", n=2
    )
    return "\n".join(lines)


def _details(tool: str, data: Mapping[str, Any], cwd: str | None) -> str:
    path = str(data.get("file_path") or data.get("notebook_path") or "")
    shown = _relative(path, cwd)
    if tool == "Bash":
        note = f"\n_{data['description']}_" if data.get("description") else ""
        return f"💻 *Run command*{note}\n{_fence(str(data.get('command', '')), 'bash')}"
    if tool == "Edit":
        diff = edit_diff(shown, str(data.get("old_string", "")), str(data.get("new_string", "")))
        return f"✏️ *Edit* `{shown}`\n{_fence(diff, 'diff')}"
    if tool == "MultiEdit":
        diffs = [
            edit_diff(shown, str(e.get("old_string", "")), str(e.get("new_string", "")))
            for e in data.get("edits", [])
            if isinstance(e, Mapping)
        ]
        return f"✏️ *Edit* `{shown}` ({len(diffs)} changes)\n{_fence(chr(10).join(diffs), 'diff')}"
    if tool == "Write":
        content = str(data.get("content", ""))
        lines = content.splitlines()
        head = "\n".join(lines[:WRITE_PREVIEW_LINES])
        more = f"\n… {len(lines) - WRITE_PREVIEW_LINES} more lines" if len(lines) > 15 else ""
        language = _LANGUAGES.get(os.path.splitext(path)[1], "")
        size = f"{len(lines)} lines, {len(content.encode())} bytes"
        return f"📝 *Write* `{shown}` ({size})\n{_fence(head + more, language)}"
    if tool == "WebFetch":
        prompt = f"\n_{data['prompt']}_" if data.get("prompt") else ""
        return f"🌐 *Fetch* {data.get('url', '')}{prompt}"
    if tool == "ExitPlanMode":
        plan = str(data.get("plan", "")).strip()
        if not plan:  # Claude Code keeps the plan in its own file: it is in the answer above
            return "📋 *Claude's plan is ready* (above). Start working on it?"
        if len(plan) > DETAIL_LIMIT:
            plan = plan[:DETAIL_LIMIT] + "\n… (cut)"
        return f"📋 *Claude's plan*\n\n{plan}"
    if tool == "NotebookEdit":
        return f"📓 *Edit notebook* `{shown}`\n{_fence(str(data.get('new_source', '')))}"
    body = json.dumps(dict(data), indent=2, ensure_ascii=False, default=str)
    return f"🔧 *{tool}*\n{_fence(body, 'json')}"


def prompt_markdown(request: PendingPermission, cwd: str | None, session_label: str = "") -> str:
    """The approval prompt for ``request`` as Markdown.

    Args:
        request: The pending request.
        cwd: The session's working directory (paths are shown relative to it).
        session_label: The session's name, shown when the chat has several.
    """
    where = f" · {session_label}" if session_label else ""
    header = f"🔐 *Approval #{request.number}*{where}"
    return f"{header}\n{_details(request.tool_name, request.input_data, cwd)}"


def outcome_line(request: PendingPermission, who: str = "") -> str:
    """One line saying how a request ended, for the edited prompt."""
    by = f" by {who}" if who else ""
    if request.state is PermissionState.APPROVED and request.updated_input is not None:
        answers = request.updated_input.get("answers") or {}
        return f"✅ *Answered*{by}: " + "; ".join(str(a) for a in answers.values())
    if request.state is PermissionState.APPROVED and request.sticky is not None:
        return f"♾ *Always approved*{by}: {request.sticky.describe()}"
    if request.state is PermissionState.APPROVED:
        return f"✅ *Approved*{by}"
    if request.state is PermissionState.TIMEOUT:
        return "⌛ *Timed out* — denied"
    reason = request.deny_message or "denied"
    if reason == "User rejected":
        return f"❌ *Rejected*{by}"
    if reason in NOT_RUN:
        return f"⏹ *Not run*: {NOT_RUN[reason]}"
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
