"""Environment for running the real Claude Code CLI against :class:`FakeAnthropic`.

:func:`cli_env` builds the ``env`` mapping for ``ClaudeAgentOptions(env=...)``.
The SDK merges it over the test process's own environment, so besides what the
CLI needs, it blanks variables a developer's shell or CI may carry that would
send the CLI elsewhere (other credentials, other providers, proxies, another
config directory).

What was measured (CLI 2.1.331 from claude-agent-sdk 0.2.188, run in a network
namespace with only loopback and a logging DNS stub):

* ``ANTHROPIC_BASE_URL`` + ``ANTHROPIC_API_KEY`` (any non-empty string) are
  enough for the agent loop to talk to the fake; it sends the key as
  ``x-api-key``.
* ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`` is the one that matters for
  isolation. Without it the CLI resolves ``api.anthropic.com`` (12 DNS lookups
  in a two-turn session), sends ``HEAD /api/hello`` to the base URL, and makes a
  session-title side request (``tools: []``, ``output_config.format`` a JSON
  schema) after the first prompt of each turn. With it: no DNS lookups at all,
  no ``/api/hello``, no title calls — only the main-loop ``/v1/messages``.
* ``DISABLE_TELEMETRY``, ``DISABLE_ERROR_REPORTING``, ``DISABLE_AUTOUPDATER``
  and ``CLAUDE_CODE_ENABLE_TELEMETRY=0`` on their own cut the DNS lookups from
  12 to 4 but not to zero; with the variable above they change nothing
  measurable. They are kept as a second line of defence.
* ``HOME`` (and ``CLAUDE_CONFIG_DIR``, which would override it) decide where
  the CLI keeps its config and session transcripts; resuming a session needs
  the same ``HOME``. ``TMPDIR`` keeps its scratch files in the test's temp dir.
* With this environment a whole e2e run made no DNS lookup and no connection
  other than to loopback (checked with strace in a loopback-only namespace).
* Timing: ``connect()`` takes ~0.27 s (~0.55 s on a cold first start), the
  first prompt ~0.1 s and later ones ~0.03 s round trip. Also setting
  ``CLAUDE_CODE_DISABLE_CLAUDE_MDS``, ``CLAUDE_CODE_DISABLE_AUTO_MEMORY``,
  ``CLAUDE_CODE_DISABLE_BUNDLED_SKILLS``, ``DISABLE_AUTO_COMPACT``,
  ``CLAUDE_CODE_DISABLE_FILE_CHECKPOINTING`` or
  ``CLAUDE_CODE_DISABLE_BACKGROUND_TASKS`` changed neither.
* For failure tests, ``CLAUDE_CODE_MAX_RETRIES=0`` (via ``extra``) stops the
  CLI retrying 5xx answers; the fake's ``x-should-retry: false`` does the same
  per answer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

__all__ = ["DUMMY_API_KEY", "cli_env"]

DUMMY_API_KEY: Final = "sk-ant-api03-fake-key-for-tests-0000000000000000"
"""An API key the fake accepts (it checks nothing); it only has to be non-empty."""

_BLANKED: Final = (
    # Other credentials would replace x-api-key with a bearer token.
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "ANTHROPIC_CUSTOM_HEADERS",
    # Other providers would ignore ANTHROPIC_BASE_URL.
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
    # A proxy would see loopback traffic (NO_PROXY below also covers it).
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


def cli_env(
    base_url: str,
    home: str | os.PathLike[str],
    *,
    api_key: str = DUMMY_API_KEY,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Build the CLI's environment for talking only to a fake Messages API.

    Args:
        base_url: The fake's ``http://127.0.0.1:PORT``.
        home: A temporary home directory; ``home/tmp`` is created and used as
            ``TMPDIR``. Reuse the same directory to resume a session.
        api_key: The dummy key sent as ``x-api-key``.
        extra: More variables, applied last (e.g. ``CLAUDE_CODE_MAX_RETRIES``).

    Returns:
        A mapping for ``ClaudeAgentOptions(env=...)``.
    """
    home_path = Path(home)
    tmp = home_path / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = dict.fromkeys(_BLANKED, "")
    env.update(
        {
            "ANTHROPIC_BASE_URL": base_url,
            "ANTHROPIC_API_KEY": api_key,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CODE_ENABLE_TELEMETRY": "0",
            "HOME": str(home_path),
            "CLAUDE_CONFIG_DIR": str(home_path / ".claude"),
            "XDG_CONFIG_HOME": str(home_path / ".config"),
            "TMPDIR": str(tmp),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    if extra:
        env.update(extra)
    return env
