"""The Telegram front end."""

import os

# Our code reads RetryAfter.retry_after as a timedelta; opt in to python-telegram-bot's
# coming default now (it also silences its deprecation warnings).
os.environ.setdefault("PTB_TIMEDELTA", "1")
