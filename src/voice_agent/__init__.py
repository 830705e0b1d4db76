"""voice-agent: drive Claude Code on your machine from Telegram, by voice or text."""

__version__ = "0.1.0"
