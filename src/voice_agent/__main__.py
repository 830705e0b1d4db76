"""``python -m voice_agent`` is the ``voice-agent`` command."""

import sys

from voice_agent.cli import main

if __name__ == "__main__":  # importing it (a test does) must not run the command
    sys.exit(main())
