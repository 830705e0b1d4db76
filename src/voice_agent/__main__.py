"""``python -m voice_agent`` is the ``voice-agent`` command."""

import sys

from voice_agent.cli import main

sys.exit(main())
