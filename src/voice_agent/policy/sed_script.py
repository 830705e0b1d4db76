"""A conservative reader of sed scripts: does a sed call only print?

sed can run shell commands (``e``, ``s///e``), write files (``w``, ``W``,
``s///w``) and read other files (``r``, ``R``). The reader walks the script's
commands, skipping addresses, regular expressions, replacements and text
arguments, and refuses whatever it does not know. It stops a delimited part at
the first unescaped delimiter, never later than sed does, so what sed would take
for a command is never hidden inside what the reader skipped.
"""

from __future__ import annotations

from collections.abc import Sequence


def _skip_delimited(script: str, i: int, delim: str) -> int:
    """Index just after the next unescaped `delim` from `i`, or -1."""
    while i < len(script):
        if script[i] == "\\":
            i += 2
            continue
        if script[i] == "\n":
            return -1
        if script[i] == delim:
            return i + 1
        i += 1
    return -1


def _sed_s_end(script: str, i: int) -> int:
    """Index after an ``s`` (or ``y``) command at `i`; -1 if malformed or it writes/executes."""
    if i + 1 >= len(script) or script[i + 1] in "\n\\":
        return -1
    delim = script[i + 1]
    j = _skip_delimited(script, i + 2, delim)
    j = _skip_delimited(script, j, delim) if j >= 0 else -1
    if j < 0 or script[i] == "y":
        return j
    while j < len(script) and script[j] not in ";\n}":
        if script[j] in "ew":
            return -1
        j += 1
    return j


def _sed_script_ok(script: str) -> bool:
    """Whether a sed script has no command that runs, writes or reads files (``e w W r R``)."""
    i, n = 0, len(script)
    while i < n:
        ch = script[i]
        if ch in " \t\n;{}!$,~+" or ch.isdigit():
            i += 1
        elif ch == "#":
            newline = script.find("\n", i)
            i = n if newline < 0 else newline
        elif ch in "/\\":
            delim, start = ("/", i + 1) if ch == "/" else (script[i + 1 : i + 2], i + 2)
            i = _skip_delimited(script, start, delim) if delim else -1
            if i < 0:
                return False
            while i < n and script[i] in "IM":
                i += 1
        elif ch in "sy":
            i = _sed_s_end(script, i)
            if i < 0:
                return False
        elif ch in "aic":
            i += 1
            while i < n and script[i] != "\n":
                i += 2 if script[i] == "\\" else 1
        elif ch in ":btTv":
            while i < n and script[i] not in ";\n":
                i += 1
        elif ch in "=dDgGhHlnNpPxzFqQLu":
            i += 1
        else:
            return False
    return True


def sed_call_ok(args: Sequence[str]) -> bool:
    """Whether a sed call only prints: no ``-i``, no ``-f``, no script that runs or touches files.

    Args:
        args: sed's arguments (without the program name), quotes removed.

    Returns:
        False for in-place editing, script files, and any script (from ``-e``,
        ``--expression`` or the first operand) with an ``e``, ``w``, ``W``, ``r`` or
        ``R`` command, an ``s///e`` or ``s///w`` flag, or anything it cannot parse.
    """
    scripts: list[str] = []
    positionals: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        following = args[i + 1] if i + 1 < len(args) else None
        i += 1
        if arg == "--":
            positionals.extend(args[i:])
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if not name or "in-place".startswith(name) or "file".startswith(name):
                return False
            if "expression".startswith(name):
                script = value if eq else following
                if script is None:
                    return False
                scripts.append(script)
                i += 0 if eq else 1
            elif "line-length".startswith(name) and not eq:
                i += 1
        elif arg.startswith("-") and len(arg) > 1:
            for k, letter in enumerate(arg[1:], start=2):
                if letter in "if":
                    return False
                if letter in "el":
                    value_text = arg[k:] or following
                    if value_text is None:
                        return False
                    if letter == "e":
                        scripts.append(value_text)
                    i += 0 if arg[k:] else 1
                    break
        else:
            positionals.append(arg)
    if not scripts:
        if not positionals:
            return False
        scripts.append(positionals[0])
    return all(_sed_script_ok(s) for s in scripts)
