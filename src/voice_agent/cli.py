"""The ``voice-agent`` command.

``run`` (the Telegram bot, the default; with ``NATS_URL`` the hub of several
machines), ``worker`` (serve this machine's sessions to the hub), ``chat`` (the
terminal front end), ``doctor`` (check the set-up), ``sessions`` and ``audit``
(the store).
"""

from __future__ import annotations

import argparse
import sys

from voice_agent import __version__
from voice_agent.config import Settings, SettingsError, load_settings
from voice_agent.logs import settings_secrets, setup_logging
from voice_agent.ops import admin
from voice_agent.terminal import chat as terminal_chat

NO_TOKEN = """voice-agent: TELEGRAM_BOT_TOKEN is not set.

1. In Telegram, talk to @BotFather, send /newbot and follow the steps; it gives a token.
2. Put it in the environment or in a .env file here:   TELEGRAM_BOT_TOKEN=123456:ABC...
3. Run `voice-agent run` again. With no ALLOWED_USER_IDS / ALLOWED_CHAT_IDS set, the
   bot prints a pairing code: send /pair CODE to your bot from your own account.

`voice-agent chat` works without Telegram, in this terminal."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voice-agent", description=__doc__)
    parser.add_argument("--version", action="version", version=f"voice-agent {__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the Telegram bot (default; with NATS_URL: the hub)")
    sub.add_parser("worker", help="serve this machine's sessions to the hub (NATS_URL)")
    chat = sub.add_parser(
        "chat", help="talk to Claude Code in this terminal", description=terminal_chat.DESCRIPTION
    )
    terminal_chat.add_arguments(chat)
    sub.add_parser("doctor", help="check the token, Claude Code, credentials and the store")
    admin.add_parsers(sub)
    return parser


def _run_bot(settings: Settings) -> int:
    if settings.telegram_bot_token is None:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    from telegram import Update

    from voice_agent.telegram.app import build_application

    application = build_application(settings)
    application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


def _store_command(settings: Settings, args: argparse.Namespace) -> int:
    from voice_agent.sessions import SessionStorage
    from voice_agent.store.database import StorageError

    try:
        storage = SessionStorage(settings.store_path)
    except StorageError as error:
        print(f"voice-agent: {error}", file=sys.stderr)
        return 1
    try:
        command = admin.sessions_command if args.command == "sessions" else admin.audit_command
        return command(storage, args, print)
    except StorageError as error:  # damage the store only showed once in use
        print(f"voice-agent: {error}", file=sys.stderr)
        return 1
    finally:
        storage.close()


def main(argv: list[str] | None = None) -> int:
    """Run the ``voice-agent`` command line.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The process exit status.
    """
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"voice-agent: {error}", file=sys.stderr)
        return 2
    # The chat's screen is stderr too: its log goes to a file (warnings still show).
    log_file = settings.voice_agent_data_dir / "chat.log" if args.command == "chat" else None
    setup_logging(
        settings.log_level, settings_secrets(settings), settings.log_format, log_file=log_file
    )
    if args.command == "doctor":
        from voice_agent.ops.doctor import doctor

        return doctor(settings)
    if args.command == "worker":
        from voice_agent.machines.worker import worker_command

        return worker_command(settings, __version__)
    if args.command in ("sessions", "audit"):
        return _store_command(settings, args)
    if args.command == "chat" and args.machine:
        from voice_agent.terminal.remote import chat_on_machine  # imports nats-py

        return chat_on_machine(settings, machine=args.machine, session=args.session)
    if args.command == "chat":
        return terminal_chat.chat_command(settings, session=args.session, cwd=args.cwd)
    return _run_bot(settings)
