"""The terminal front end (``voice-agent chat``): Claude Code in a terminal REPL.

:func:`main` is the command's entry point; :func:`run_chat` drives any
:class:`~voice_agent.sessions.SessionManager` from any pair of text streams.
"""

from voice_agent.terminal.approval_text import describe_request
from voice_agent.terminal.chat import main, run_chat

__all__ = ["describe_request", "main", "run_chat"]
