"""What every handler shares: settings, the session manager, the access gate, queues."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from telegram import Update
from telegram.ext import ContextTypes

from voice_agent.access import AccessGate
from voice_agent.config import Settings
from voice_agent.sessions import Session, SessionManager
from voice_agent.speech.tts import EspeakTTS
from voice_agent.telegram.approval_desk import ApprovalDesk
from voice_agent.telegram.command_menu import CommandMenus
from voice_agent.telegram.diff_links import DiffLinks
from voice_agent.telegram.schedule_desk import ScheduleDesk
from voice_agent.telegram.state.chat_settings import ChatSettingsTable
from voice_agent.telegram.voice_desk import VoiceDesk
from voice_agent.telegram.workers import ChatWorkers

if TYPE_CHECKING:
    from voice_agent.machines.hub import Hub

SERVICES_KEY = "voice_agent"


@dataclass
class Services:
    """The bot's shared state, kept in ``application.bot_data``.

    Attributes:
        settings: The settings read at start-up.
        manager: The session manager.
        gate: Who may use the bot.
        desk: The approval prompts.
        voice: Speech-to-text and unsure transcripts.
        tts: The speech synthesizer for spoken replies (None when not installed).
        workers: One prompt queue per chat (and per forum topic).
        stream_mode: ``auto`` (drafts in private chats, edits elsewhere) or ``edit``.
        diff_links: What the buttons under ``/diff`` messages name.
        menus: Each chat's command menu, following Claude Code's commands.
        schedules: The scheduled prompts (``/schedule``).
        machines: The hub of several machines (None without ``NATS_URL``).
    """

    settings: Settings
    manager: SessionManager
    gate: AccessGate
    desk: ApprovalDesk
    voice: VoiceDesk
    tts: EspeakTTS | None = None
    workers: ChatWorkers = field(default_factory=ChatWorkers)
    stream_mode: str = "edit"
    diff_links: DiffLinks = field(default_factory=DiffLinks)
    menus: CommandMenus = field(default_factory=lambda: CommandMenus((), None))
    schedules: ScheduleDesk = field(default_factory=lambda: ScheduleDesk(None))
    machines: Hub | None = None

    def machine_of(self, session: Session) -> str | None:
        """The other machine ``session`` lives on (None: this one, or a single machine)."""
        return self.machines.machine_of(session) if self.machines is not None else None

    def voice_replies(self, chat_id: int) -> bool:
        """Whether answers to voice notes are also spoken in this chat."""
        return self._chat_flag(chat_id, "voice_replies", self.settings.voice_replies)

    @cached_property
    def chat_settings(self) -> ChatSettingsTable | None:
        """Each chat's preferences, on the store's database (None without a store)."""
        storage = self.manager.storage
        return ChatSettingsTable(storage.database) if storage is not None else None

    def _chat_flag(self, chat_id: int, key: str, default: bool) -> bool:
        stored = self.chat_settings.get(chat_id, key) if self.chat_settings else None
        return default if stored is None else stored == "on"

    def _set_chat_flag(self, chat_id: int, key: str, on: bool) -> None:
        if self.chat_settings is not None:
            self.chat_settings.set(chat_id, key, "on" if on else "off")

    def footer_on(self, chat_id: int) -> bool:
        """Whether answers in this chat end with the time, tokens and cost footer."""
        return self._chat_flag(chat_id, "footer", self.settings.turn_footer)

    def set_footer(self, chat_id: int, on: bool) -> None:
        """Turn the footer on or off for this chat (kept in the store)."""
        self._set_chat_flag(chat_id, "footer", on)

    def quiet(self, chat_id: int) -> bool:
        """Whether this chat is silenced: only approvals and questions alert."""
        return self._chat_flag(chat_id, "quiet", False)

    def set_quiet(self, chat_id: int, on: bool) -> None:
        """Silence this chat, or let answers and errors alert again (kept in the store)."""
        self._set_chat_flag(chat_id, "quiet", on)

    def spent_today(self, chat_id: int) -> float:
        """Dollars this chat's turns cost since midnight UTC."""
        storage = self.manager.storage
        if storage is None:
            return 0.0
        return storage.usage.totals(chat_id, since=datetime.now(UTC).date().isoformat()).cost_usd

    def over_budget(self, chat_id: int) -> str | None:
        """Why a new turn may not start (the daily budget is spent), or None."""
        budget = self.settings.daily_budget_usd
        spent = self.spent_today(chat_id) if budget else 0.0
        if not budget or spent < budget:
            return None
        return (
            f"💸 Today's budget for this chat (${budget:.2f}) is spent (${spent:.2f}). "
            "New prompts run again after midnight UTC, or raise DAILY_BUDGET_USD."
        )

    def set_voice_replies(self, chat_id: int, on: bool) -> None:
        """Turn spoken replies on or off for this chat (kept in the store)."""
        self._set_chat_flag(chat_id, "voice_replies", on)


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    """The shared state from a handler's context."""
    found = context.application.bot_data[SERVICES_KEY]
    assert isinstance(found, Services)
    return found


@dataclass(frozen=True)
class Where:
    """Where an update came from and where replies go.

    Attributes:
        chat_id: The chat.
        thread_id: The forum topic (None outside topics).
        user_id: The sender.
        private: Whether the chat is private.
        topic: The forum topic's title, when the message shows it.
    """

    chat_id: int
    thread_id: int | None
    user_id: int | None
    private: bool
    topic: str | None = None

    @property
    def queue_key(self) -> Hashable:
        """The prompt queue: one per chat, and one per forum topic."""
        return self.chat_id if self.thread_id is None else (self.chat_id, self.thread_id)

    @classmethod
    def of(cls, update: Update) -> Where:
        """Read the chat, topic and sender of an update."""
        chat = update.effective_chat
        message = update.effective_message
        user = update.effective_user
        assert chat is not None
        thread = message.message_thread_id if message and message.is_topic_message else None
        opened = message.reply_to_message if message and thread is not None else None
        created = (message.forum_topic_created if message else None) or (
            opened.forum_topic_created if opened is not None else None
        )
        return cls(
            chat.id,
            thread,
            user.id if user else None,
            chat.type == "private",
            created.name if created is not None else None,
        )
