"""Short human descriptions of tool calls; they live in :mod:`voice_agent.agent.describe`.

Kept so ``from voice_agent.sessions.describe import describe_call`` goes on working.
"""

from voice_agent.agent.describe import describe_call, summarize_input

__all__ = ["describe_call", "summarize_input"]
