"""Operating the bot from the machine: ``doctor``, ``sessions`` and ``audit`` commands."""
