"""The Telegram application: all handler wiring in one place, opened and closed cleanly."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from functools import partial

from telegram import Bot, BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from voice_agent import __version__
from voice_agent.access import AccessGate
from voice_agent.agent.options import AgentSettings
from voice_agent.config import Settings, claude_environment
from voice_agent.sessions import SessionManager, SessionStorage
from voice_agent.sessions.turns import TurnRunner
from voice_agent.speech.tts import EspeakTTS
from voice_agent.store.schedules_table import SchedulesTable
from voice_agent.telegram import (
    commands,
    dialogs,
    diff_command,
    dir_picker,
    files,
    machines,
    prompts,
    resume_all,
    schedules,
    topics,
    voice,
)
from voice_agent.telegram.approvals import (
    ApprovalDesk,
    approvals_command,
    mode_command,
    on_decision_button,
    on_revoke_button,
)
from voice_agent.telegram.callbacks import Kind, pattern
from voice_agent.telegram.command_menu import CommandMenus
from voice_agent.telegram.schedule_desk import ScheduleDesk
from voice_agent.telegram.services import SERVICES_KEY, Services, Where, services
from voice_agent.telegram.state.chat_settings import ChatSettingsTable
from voice_agent.telegram.voice import VoiceDesk
from voice_agent.telegram.workers import Stopped

logger = logging.getLogger(__name__)


def build_services(settings: Settings, agent: AgentSettings | None = None) -> Services:
    """The store, session manager, access gate and approval desk for ``settings``.

    Args:
        settings: The settings.
        agent: Client settings (default: from ``settings``).
    """
    base = agent or AgentSettings(
        max_live_clients=settings.max_live_clients,
        idle_timeout=settings.idle_timeout,
        start_timeout=settings.start_timeout,
    )
    agent = replace(base, env={**claude_environment(), **base.env})
    storage = SessionStorage(settings.store_path)
    storage.hold("the bot")  # `voice-agent sessions delete` is refused while the bot runs
    for moved in storage.moved_aside:
        logger.error("a damaged store file was moved aside to %s; nothing was deleted", moved)
    hub = None
    runner = None
    if settings.nats_url:  # several machines: nats-py is imported only then
        from voice_agent.machines.hub import Hub

        hub = Hub(settings, storage.database, __version__)
        runner = hub.runner(TurnRunner(agent))
    manager = SessionManager(
        default_cwd=str(settings.default_cwd),
        permission_timeout=settings.permission_timeout,
        storage=storage,
        agent=agent,
        jail=settings.build_jail(),
        runner=runner,
    )
    gate = AccessGate(
        settings.allowed_chat_ids,
        settings.allowed_user_ids,
        storage.owners,
        settings.approver_user_ids,
    )
    desk = ApprovalDesk(manager, hub.machine_of if hub is not None else None)
    manager.set_permission_listeners(desk.on_request, desk.on_resolved)
    voice_desk = VoiceDesk(settings.speech_settings(), settings.low_confidence)
    speaker = EspeakTTS()
    tts = speaker if speaker.available() else None
    menus = CommandMenus(commands.COMMANDS, ChatSettingsTable(storage.database))
    return Services(
        settings,
        manager,
        gate,
        desk,
        voice_desk,
        tts,
        stream_mode=settings.stream_mode,
        menus=menus,
        schedules=ScheduleDesk(SchedulesTable(storage.database), settings.zone()),
        machines=hub,
    )


async def gate_check(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop every update from a chat or user that is not allowed: no reply, nothing started."""
    if update.effective_chat is None:
        raise ApplicationHandlerStop
    where = Where.of(update)
    if not services(context).gate.allows(where.chat_id, where.user_id, where.private):
        raise ApplicationHandlerStop


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log first, then tell the user something went wrong (never the traceback)."""
    logger.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await update.effective_message.reply_text(
                "⚠️ Something went wrong handling that; it is in the log. Nothing was lost."
            )
        except Exception:  # the error handler must not raise
            logger.debug("could not report the error to the chat", exc_info=True)


async def _post_init(application: Application) -> None:  # type: ignore[type-arg]
    svc = application.bot_data[SERVICES_KEY]
    assert isinstance(svc, Services)
    svc.desk.attach(application.bot)
    lapsed = await svc.desk.mark_lapsed()
    if lapsed:
        logger.info("marked %d approval prompt(s) from the last run as lapsed", lapsed)
    if svc.machines is not None:
        await svc.machines.start(svc.manager)
        machines.pick_up_turns(application.bot, svc)
    await application.bot.set_my_commands([BotCommand(n, d) for n, d in commands.COMMANDS])
    if application.job_queue is None:
        logger.error("no job queue (install python-telegram-bot[job-queue]): /schedule is off")
    else:
        svc.schedules.attach(application.job_queue, partial(schedules.fire, svc))
    if svc.gate.pairing_code:
        print(
            "voice-agent: no allowlist is set, so the bot is in pairing mode.\n"
            f"Send this from your Telegram account, in a private chat with the bot:\n\n"
            f"    /pair {svc.gate.pairing_code}\n",
            file=sys.stderr,
            flush=True,
        )


async def _post_stop(application: Application) -> None:  # type: ignore[type-arg]
    """Close every turn and Claude Code process while the bot can still edit messages."""
    svc = application.bot_data[SERVICES_KEY]
    assert isinstance(svc, Services)
    stopped = await svc.workers.close()
    await _say_what_stopped(application.bot, stopped)
    await svc.manager.aclose()
    if svc.machines is not None:
        await svc.machines.aclose()  # turns on other machines go on; the next run picks them up


STOPPED_MID_TURN = "⏹ The bot stopped in the middle of this turn: the answer above is incomplete."
NOT_RUN = "⏹ {} queued prompt(s) were not run. Send them again once the bot is back."


async def _say_what_stopped(bot: Bot, stopped: Stopped) -> None:
    """Tell each chat (or topic) what the shutdown cut off or never ran."""
    for key in dict.fromkeys([*stopped.running, *stopped.dropped]):
        chat_id, thread_id = key if isinstance(key, tuple) else (key, None)
        lines = []
        if key in stopped.running:
            lines.append(STOPPED_MID_TURN)
        if stopped.dropped.get(key):
            lines.append(NOT_RUN.format(stopped.dropped[key]))
        try:
            await bot.send_message(chat_id, "\n".join(lines), message_thread_id=thread_id)
        except TelegramError as error:
            logger.warning("could not tell chat %s what the shutdown stopped: %s", chat_id, error)


async def _post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
    """Close the store last (its WAL checkpointed, its lock let go): nothing writes to it now."""
    svc = application.bot_data[SERVICES_KEY]
    assert isinstance(svc, Services)
    storage = svc.manager.storage
    if storage is not None and not storage.closed:
        storage.close()
        logger.info("closed the store %s", storage.db_path)


def _command_handlers() -> list[CommandHandler]:  # type: ignore[type-arg]
    table = {
        ("start", "help"): commands.help_command,
        ("status",): commands.status_command,
        ("new",): commands.new_command,
        ("switch",): commands.switch_command,
        ("rename",): commands.rename_command,
        ("close",): commands.close_command,
        ("cwd",): commands.cwd_command,
        ("project",): commands.project_command,
        ("clear",): commands.clear_command,
        ("restart",): commands.restart_command,
        ("cancel",): commands.cancel_command,
        ("sessions",): dialogs.sessions_command,
        ("resume",): dialogs.resume_command,
        ("approvals",): approvals_command,
        ("mode",): mode_command,
        ("voice",): voice.voice_command,
        ("get",): files.get_command,
        ("diff",): diff_command.diff_command,
        ("footer",): commands.footer_command,
        ("quiet",): commands.quiet_command,
        ("schedule",): schedules.schedule_command,
        ("schedules",): schedules.schedules_command,
        ("machines",): machines.machines_command,
    }
    return [CommandHandler(list(names), callback) for names, callback in table.items()]


def wire(application: Application) -> None:  # type: ignore[type-arg]
    """Register every handler of the bot.

    Args:
        application: The application to wire.
    """
    application.add_handler(CommandHandler("pair", prompts.pair_command), group=-2)
    application.add_handler(TypeHandler(Update, gate_check), group=-1)
    # Before every other handler of the group: an edit runs nothing, commands included.
    application.add_handler(MessageHandler(filters.UpdateType.EDITED, prompts.on_edited))
    for handler in _command_handlers():
        application.add_handler(handler)
    buttons = {
        pattern(
            Kind.APPROVE, Kind.ALWAYS, Kind.REJECT, Kind.SCOPE, Kind.BACK, Kind.ANSWER
        ): on_decision_button,
        pattern(Kind.REVOKE, Kind.REVOKE_ALL): on_revoke_button,
        pattern(Kind.STOP): prompts.on_stop_button,
        pattern(Kind.SWITCH, Kind.NEW, Kind.CLOSE, Kind.CLOSE_YES): dialogs.on_sessions_button,
        pattern(Kind.RESUME): dialogs.on_resume_button,
        pattern(Kind.RESUME_ALL): resume_all.on_resume_all_button,
        pattern(Kind.DIRECTORY): dir_picker.on_directory_button,
        pattern(Kind.CANCEL): dialogs.on_cancel_button,
        pattern(Kind.VOICE_SEND, Kind.VOICE_CANCEL): voice.on_draft_button,
        pattern(Kind.GET): files.on_get_button,
        pattern(Kind.DIFF, Kind.DIFF_FILE): diff_command.on_diff_button,
        pattern(Kind.UNSCHEDULE): schedules.on_unschedule_button,
    }
    for regex, callback in buttons.items():
        application.add_handler(CallbackQueryHandler(callback, pattern=regex))
    application.add_handler(CallbackQueryHandler(on_decision_button))  # stale or unknown data
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, prompts.on_text))
    application.add_handler(
        MessageHandler(filters.PHOTO | filters.Document.IMAGE, prompts.on_image)
    )
    audio = filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE | filters.Document.AUDIO
    application.add_handler(MessageHandler(audio, voice.on_voice))
    application.add_handler(MessageHandler(filters.Document.ALL, prompts.on_document))
    application.add_handler(MessageHandler(filters.COMMAND, prompts.on_unknown_command))
    topic_changes = {
        filters.StatusUpdate.FORUM_TOPIC_CREATED: topics.on_topic_created,
        filters.StatusUpdate.FORUM_TOPIC_EDITED: topics.on_topic_edited,
    }
    for status, callback in topic_changes.items():
        application.add_handler(MessageHandler(status, callback))
    application.add_error_handler(on_error)


def rate_limiter(settings: Settings) -> AIORateLimiter:
    """Telegram's limits for every Bot API call: all chats together, each group, and 429s.

    Calls wait for room under ``TELEGRAM_OVERALL_MAX_RATE`` and (in groups and
    channels) ``TELEGRAM_GROUP_MAX_RATE``; a call Telegram still refuses with 429 is
    sent again after the time it asks for, up to ``TELEGRAM_MAX_RETRIES`` times
    (meanwhile every call waits). Streamed answers keep their own edit cadence on
    top (:mod:`voice_agent.telegram.stream`).

    Args:
        settings: The rates and retries.
    """
    return AIORateLimiter(
        overall_max_rate=settings.telegram_overall_max_rate,
        overall_time_period=settings.telegram_overall_time_period,
        group_max_rate=settings.telegram_group_max_rate,
        group_time_period=settings.telegram_group_time_period,
        max_retries=settings.telegram_max_retries,
    )


def build_application(settings: Settings, svc: Services | None = None) -> Application:  # type: ignore[type-arg]
    """The bot, ready to run (``run_polling``) or to drive in tests.

    Args:
        settings: The settings (the token is required).
        svc: Prebuilt shared state (tests); built from ``settings`` when None.

    Raises:
        ValueError: No bot token is set.
    """
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_file_url)
        .concurrent_updates(True)
        .rate_limiter(rate_limiter(settings))
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
        .build()
    )
    application.bot_data[SERVICES_KEY] = svc or build_services(settings)
    wire(application)
    return application
