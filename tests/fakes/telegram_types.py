"""Records kept by :class:`tests.fakes.telegram.FakeTelegram`.

These are plain dataclasses: the people (:class:`User`), the chats
(:class:`Chat`), the files (:class:`StoredFile`), the messages
(:class:`StoredMessage`, with their edit history), every Bot API call
(:class:`ApiCall`) and the side effects a bot can have that are not messages
(:class:`ChatAction`, :class:`Draft`, :class:`CallbackAnswer`,
:class:`Reaction`). Injected updates are described by :class:`Injected`.

All times are ``time.monotonic()`` readings, so a test can compare them with
its own clock; ``date`` fields in the wire JSON are Unix seconds.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "JSON",
    "ApiCall",
    "ApiError",
    "CallbackAnswer",
    "Chat",
    "ChatAction",
    "ChatType",
    "Draft",
    "Injected",
    "MessageVersion",
    "Reaction",
    "StoredFile",
    "StoredMessage",
    "Upload",
    "User",
]

JSON: TypeAlias = dict[str, Any]
"""A decoded JSON object."""

ChatType: TypeAlias = Literal["private", "group", "supergroup", "channel"]
"""The ``type`` field of a Telegram ``Chat``."""


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": ..., "description": ...}``.

    Raised inside the fake's method handlers and turned into the HTTP answer.

    Attributes:
        status: HTTP status and ``error_code`` (400, 401, 403, 404, 409, 429, 500, ...).
        description: Telegram's ``description``, e.g. ``"Bad Request: message is too long"``.
        parameters: Optional ``parameters`` object (``retry_after``, ``migrate_to_chat_id``).
    """

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        """Return the JSON body Telegram would answer with."""
        out: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        return out


@dataclass
class User:
    """A Telegram user (or the bot itself when ``is_bot``)."""

    id: int
    first_name: str
    is_bot: bool = False
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    def to_json(self) -> JSON:
        """Return the ``User`` object as Telegram sends it."""
        out: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name is not None:
            out["last_name"] = self.last_name
        if self.username is not None:
            out["username"] = self.username
        if self.language_code is not None:
            out["language_code"] = self.language_code
        return out


@dataclass
class Chat:
    """A chat the bot can talk in.

    Attributes:
        id: Chat id (a private chat's id is its user's id; groups are negative,
            supergroups usually ``-100...``).
        type: ``"private"``, ``"group"``, ``"supergroup"`` or ``"channel"``.
        title: Group title (``None`` for private chats).
        first_name: The user's first name (private chats only).
        username: Public ``@username`` without the ``@``, if any.
        is_forum: Whether the supergroup has topics enabled.
        bot_is_admin: Whether the bot is an administrator (admins see every
            group message even in privacy mode and may create topics).
        blocked: A private chat whose user blocked the bot: sends answer 403.
        user: The other party of a private chat.
        topics: Forum topic names by ``message_thread_id``.
        closed_topics: Thread ids of closed topics.
    """

    id: int
    type: ChatType
    title: str | None = None
    first_name: str | None = None
    username: str | None = None
    is_forum: bool = False
    bot_is_admin: bool = True
    blocked: bool = False
    user: User | None = None
    topics: dict[int, str] = field(default_factory=dict)
    closed_topics: set[int] = field(default_factory=set)

    def to_json(self) -> JSON:
        """Return the ``Chat`` object as Telegram puts it in a ``Message``."""
        out: JSON = {"id": self.id, "type": self.type}
        if self.title is not None:
            out["title"] = self.title
        if self.first_name is not None:
            out["first_name"] = self.first_name
        if self.user is not None and self.user.last_name is not None:
            out["last_name"] = self.user.last_name
        if self.username is not None:
            out["username"] = self.username
        if self.is_forum:
            out["is_forum"] = True
        return out


@dataclass
class StoredFile:
    """A file the fake knows: uploaded by the bot or attached to an injected message.

    Attributes:
        file_id: The id bots pass to ``getFile`` or send again.
        file_unique_id: The stable unique id.
        data: The bytes.
        kind: ``"photo"``, ``"document"``, ``"voice"``, ``"audio"``,
            ``"video"``, ``"animation"``, ``"video_note"`` or ``"sticker"``.
        file_path: Path below ``/file/bot<TOKEN>/`` where it can be downloaded.
        filename: Original file name, if any.
        mime_type: MIME type, if known.
        meta: Extra fields of the Telegram object (``width``, ``duration``, ...).
    """

    file_id: str
    file_unique_id: str
    data: bytes
    kind: str
    file_path: str
    filename: str | None = None
    mime_type: str | None = None
    meta: JSON = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)

    def to_json(self) -> JSON:
        """Return the ``Document``/``Voice``/``PhotoSize``/... object for this file."""
        out: JSON = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        out.update(self.meta)
        if self.filename is not None and self.kind in ("document", "audio", "video", "animation"):
            out["file_name"] = self.filename
        if self.mime_type is not None and self.kind not in ("photo", "video_note", "sticker"):
            out["mime_type"] = self.mime_type
        out["file_size"] = self.size
        return out


@dataclass
class MessageVersion:
    """One past state of a message (kept in :attr:`StoredMessage.history` on edit)."""

    text: str | None
    entities: list[JSON]
    caption: str | None
    caption_entities: list[JSON]
    reply_markup: JSON | None
    raw_text: str | None
    parse_mode: str | None
    time: float


@dataclass
class StoredMessage:
    """A message in a chat, as the fake currently knows it.

    Text fields hold what Telegram would store: ``text``/``caption`` are the
    plain text after ``parse_mode`` was applied and ``entities`` the resulting
    formatting; ``raw_text``/``raw_caption`` are what the bot sent.

    Attributes:
        chat_id: The chat.
        message_id: Id within the chat.
        from_bot: Sent by the bot (``False`` for injected user messages).
        kind: ``"text"``, ``"photo"``, ``"document"``, ``"voice"``, ...,
            or ``"service"`` (e.g. a topic creation).
        date: Unix time of sending.
        thread_id: ``message_thread_id`` (forum topic), if any.
        text: Plain text of a text message.
        entities: Entities of :attr:`text`.
        raw_text: Text as the bot sent it (before parsing).
        parse_mode: ``parse_mode`` the bot used for the current version.
        caption: Plain caption of a media message.
        caption_entities: Entities of :attr:`caption`.
        raw_caption: Caption as the bot sent it.
        reply_markup: The ``reply_markup`` object the bot sent (any kind).
        reply_to_message_id: The message this one replies to.
        files: Attached files; for photos all sizes, smallest first.
        history: Earlier versions, oldest first (empty when never edited).
        deleted: Whether the message was deleted.
        reactions: Current reactions set by the bot.
        sender: The user who sent it (the bot's own user for bot messages).
        extra: Other top-level fields of the message JSON (service payloads).
        sent_at: ``time.monotonic()`` at sending.
        updated_at: ``time.monotonic()`` of the last change (edit, delete, reaction).
        edit_date: Unix time of the last edit.
        silent: Sent with ``disable_notification`` (the user got no alert).
    """

    chat_id: int
    message_id: int
    from_bot: bool
    kind: str
    date: int
    sender: User
    thread_id: int | None = None
    is_topic_message: bool = False
    text: str | None = None
    entities: list[JSON] = field(default_factory=list)
    raw_text: str | None = None
    parse_mode: str | None = None
    caption: str | None = None
    caption_entities: list[JSON] = field(default_factory=list)
    raw_caption: str | None = None
    reply_markup: JSON | None = None
    reply_to_message_id: int | None = None
    files: list[StoredFile] = field(default_factory=list)
    history: list[MessageVersion] = field(default_factory=list)
    deleted: bool = False
    reactions: list[JSON] = field(default_factory=list)
    extra: JSON = field(default_factory=dict)
    sent_at: float = 0.0
    updated_at: float = 0.0
    edit_date: int | None = None
    silent: bool = False

    # -- convenience ---------------------------------------------------------

    @property
    def edited(self) -> bool:
        """Whether the message was edited at least once."""
        return bool(self.history)

    @property
    def content(self) -> str:
        """The text, or the caption of a media message, or ``""``."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def file(self) -> StoredFile | None:
        """The attached file (for a photo: the largest size)."""
        return self.files[-1] if self.files else None

    @property
    def document(self) -> StoredFile | None:
        """The document payload, if this is a document message."""
        return self.file if self.kind == "document" else None

    @property
    def photo(self) -> StoredFile | None:
        """The largest photo size, if this is a photo message."""
        return self.file if self.kind == "photo" else None

    @property
    def voice(self) -> StoredFile | None:
        """The voice payload, if this is a voice message."""
        return self.file if self.kind == "voice" else None

    @property
    def inline_keyboard(self) -> list[list[JSON]]:
        """Rows of inline keyboard buttons (empty when there is none)."""
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard")
        return [list(row) for row in rows] if isinstance(rows, list) else []

    @property
    def buttons(self) -> list[JSON]:
        """All inline keyboard buttons, row by row."""
        return [button for row in self.inline_keyboard for button in row]

    @property
    def callback_data(self) -> list[str]:
        """``callback_data`` of every inline button that has one."""
        return [str(b["callback_data"]) for b in self.buttons if "callback_data" in b]

    def snapshot(self, now: float) -> MessageVersion:
        """Return the current content as a :class:`MessageVersion`."""
        return MessageVersion(
            text=self.text,
            entities=copy.deepcopy(self.entities),
            caption=self.caption,
            caption_entities=copy.deepcopy(self.caption_entities),
            reply_markup=copy.deepcopy(self.reply_markup),
            raw_text=self.raw_text,
            parse_mode=self.parse_mode,
            time=now,
        )


@dataclass(frozen=True)
class Upload:
    """A file part of a ``multipart/form-data`` request."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class ApiCall:
    """One request the bot made to the fake Bot API.

    Attributes:
        method: Canonical method name (``"sendMessage"``), or the name as
            requested when it is unknown.
        params: Parameters, decoded: JSON-string fields (``reply_markup``,
            ``entities``, ...) parsed, numeric ids as ``int``, flags as ``bool``;
            uploaded files appear as ``"<upload:filename>"`` strings.
        raw: Parameters exactly as received (form fields are strings).
        files: Uploaded multipart file parts by part name.
        time: ``time.monotonic()`` when the request arrived.
        http_method: ``"POST"`` or ``"GET"``.
        content_type: Request ``Content-Type`` without parameters.
        status: HTTP status of the answer (``None`` while a long poll is pending,
            ``0`` if the client went away first).
        response: The JSON answer (``None`` until answered).
        finished: ``time.monotonic()`` when it was answered.
    """

    method: str
    params: JSON
    raw: JSON
    files: dict[str, Upload]
    time: float
    http_method: str
    content_type: str
    status: int | None = None
    response: JSON | None = None
    finished: float | None = None

    @property
    def ok(self) -> bool:
        """Whether the call was answered with ``"ok": true``."""
        return self.status == 200

    @property
    def result(self) -> Any:
        """The ``result`` of a successful answer (``None`` otherwise)."""
        return (self.response or {}).get("result")

    @property
    def description(self) -> str | None:
        """The error ``description`` of a failed answer."""
        if self.response is None:
            return None
        value = self.response.get("description")
        return str(value) if value is not None else None


@dataclass(frozen=True)
class ChatAction:
    """A ``sendChatAction`` call."""

    chat_id: int
    action: str
    thread_id: int | None
    time: float


@dataclass(frozen=True)
class Draft:
    """A ``sendMessageDraft`` call (Bot API 10.0 streaming in private chats).

    ``text`` and ``entities`` are the parsed result; ``raw_text`` what the bot sent.
    """

    chat_id: int
    draft_id: int
    text: str
    entities: list[JSON]
    raw_text: str | None
    parse_mode: str | None
    thread_id: int | None
    params: JSON
    time: float


@dataclass(frozen=True)
class CallbackAnswer:
    """An ``answerCallbackQuery`` call that was accepted."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    chat_id: int | None
    message_id: int | None
    data: str | None
    time: float


@dataclass(frozen=True)
class Reaction:
    """A ``setMessageReaction`` call that was accepted."""

    chat_id: int
    message_id: int
    reaction: list[JSON]
    is_big: bool
    time: float


@dataclass(frozen=True)
class Injected:
    """What an injection (``send_text``, ``press_button``, ...) created.

    Attributes:
        update_id: The update's id (also when it was not delivered).
        update: The full ``Update`` JSON.
        delivered: Whether it was queued for ``getUpdates``; ``False`` when the
            bot would not see it (group privacy mode, ``allowed_updates``).
        message: The ``Message`` JSON, for message updates.
        message_id: The new message's id, for message updates.
        callback_query_id: The query id, for a button press.
        file_id: The attached file's id (for a photo: the largest size).
    """

    update_id: int
    update: JSON
    delivered: bool
    message: JSON | None = None
    message_id: int | None = None
    callback_query_id: str | None = None
    file_id: str | None = None
