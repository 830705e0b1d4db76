"""Git in the Bash auto-approval policy: read-only subcommands in the session's own repository.

A ``git`` command passes only when all of these hold:

- **The repository is the session's.** From every place the command may run in
  (after ``cd`` and ``-C``), git must discover the same repository as from the
  session's working directory, found through a ``.git`` entry. A bare
  repository or the inside of a git directory (whose ``config`` may name a
  ``diff.external``, ``core.pager``, ``core.fsmonitor`` or textconv program),
  or a nested repository, makes git ask. Only a few harmless global options
  pass (never ``-c``, ``--git-dir``, ``--work-tree``, ``--exec-path``,
  ``--config-env``). Even the session's own repository asks when its config
  names such a program (a project unpacked from an archive brings its
  ``.git/config`` along).
- **The subcommand only reads**, with no option that writes, runs a program
  or reads a list of names from stdin (``--output``, ``--ext-diff``,
  ``--textconv``, ``--batch*``, ``--stdin``, ``--pathspec-from-file``, …);
  ``git remote`` only lists names (``-v`` shows URLs, which may hold
  credentials) and ``git cat-file`` only tells type, size or existence.
- **No argument names a secret.** Every path, ``rev:path``, ``-L…:path`` and
  option value is judged piece by piece (split at ``:``) like any path, and
  pathspec magic (``:(top)``, ``:!``, ``:^``, ``:/``, ``:path``) and pathspec
  wildcards (``*``, ``?``, ``[``) ask, since they can name a secret without
  spelling it.
- **Tracked secrets stay hidden.** A subcommand that prints file contents
  (``diff``, ``show``, ``grep``, ``log -p``, ``status -v``, …) asks when the
  index tracks a secret-looking path, unless its pathspecs (after ``--``)
  leave every such path out.
- **So do secrets in the history.** git itself lists every path that ever
  existed in a commit reachable from a ref, a reflog or a stash (see
  `git_history`). While that list holds a secret-looking path, every read of
  commits' contents (``log -p`` and other patch, ``--check`` and pickaxe
  options, ``show`` but of ``rev:path``, ``diff`` and ``grep`` of revisions,
  ``diff --cached``, ``status -v``, ``stash show``, ``reflog -p``) asks,
  unless its pathspecs leave all of them out (and no ``--follow``,
  ``--full-diff`` or ``log.follow`` widens them). Every ``show`` and every
  such read also needs each revision to name a listed commit: an object id
  passes only when every object it may abbreviate is one (a blob or a
  dangling commit is not), and root refs such as ``ORIG_HEAD`` ask. When the
  history cannot be known (git fails, is too slow, a ref names a blob or tree),
  they all ask.
- **``git diff`` and ``git grep`` outside the repository** act like
  ``diff -r`` and ``grep -r`` (``--no-index`` is implied there), so what they
  would read is scanned like any recursive read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from voice_agent.policy import bash_parse as bp
from voice_agent.policy.bash_parse import SimpleCommand, Spec, Word
from voice_agent.policy.git_history import History, history, objects_named
from voice_agent.policy.git_repo import (
    Discovery,
    common_dir,
    config_entries,
    config_runs_programs,
    discover,
    tracked_paths,
)
from voice_agent.policy.paths import PathContext, change_dir, path_ok, scan_ok, word_ok
from voice_agent.policy.secret_names import is_secret_path


def _fs(names: str) -> frozenset[str]:
    return frozenset(names.split())


#: Read-only git subcommands (branch/tag/remote/stash/reflog/cat-file have extra rules).
GIT_SUBCOMMANDS = _fs(
    "status log diff show blame ls-files ls-tree rev-parse describe shortlog show-ref grep "
    "count-objects branch tag remote stash reflog cat-file"
)
#: Global git options allowed before the subcommand (``-C dir`` is handled apart).
GIT_GLOBAL_FLAGS = _fs("--no-pager -P --no-optional-locks --no-replace-objects")
#: Listing-only flags of ``git branch``.
GIT_BRANCH_FLAGS = _fs(
    "-a --all -r --remotes -v -vv --verbose -l --list --show-current --no-color --color "
    "--merged --no-merged --no-column"
)
#: Long options that write files, run programs, leave the repository, read
#: revisions, paths or object names from stdin or a file, or recurse into other
#: repositories; in any git subcommand, abbreviations included.
GIT_SPEC = Spec(
    bad_long=tuple(
        "output ext-diff textconv no-index upload-pack exec receive-pack open-files-in-pager "
        "filters untracked no-exclude-standard config-env exec-path git-dir work-tree "
        "namespace paginate batch batch-check batch-command batch-all-objects stdin "
        "pathspec-from-file recurse-submodules submodule super-prefix".split()
    ),
    known_long=_fs("--text --no-ext-diff --no-textconv"),
)
#: ``git cat-file`` modes that print no object content.
CAT_FILE_MODES = _fs("-t -s -e")
#: Options that make log-like subcommands print patches (file contents).
PATCH_LONG = (
    "--patch",
    "--patch-with-stat",
    "--patch-with-raw",
    "--cc",
    "--dd",
    "--word-diff",
    "--word-diff-regex",
    "--color-words",
    "--unified",
    "--function-context",
    "--binary",
    "--remerge-diff",
    "--diff-merges",
    "--combined-all-paths",
    "--check",
)
#: Short option letters with the same effect (``-p``, ``-u``, ``-U3``, ``-L…``, ``-c``,
#: ``-m``, ``-W``), and the pickaxe (``-S``, ``-G``: which commits add or remove a
#: text is a question about their contents); ``git status`` prints diffs with ``-v``.
PATCH_SHORT = frozenset("puULcmWSG")
#: Options that make ``git show``/``git diff`` print no patch.
NO_PATCH = _fs(
    "-s --no-patch --stat --numstat --shortstat --name-only --name-status --summary --dirstat "
    "--dirstat-by-file --raw --quiet --compact-summary"
)
#: git grep's short options that take the next word as value, and its long ones.
_GREP_VALUE_SHORT = "ABCefm"
_GREP_VALUE_LONG = _fs(
    "--context --before-context --after-context --threads --max-depth --max-count"
)
_PATHSPEC_WILDCARDS = "*?["
_DOT = Word(".", ".")


def _subcommand_ok(sub: str, args: list[str]) -> bool:
    if sub == "branch":
        prefixes = ("--sort=", "--format=", "--color=")
        return all(a in GIT_BRANCH_FLAGS or a.startswith(prefixes) for a in args)
    if sub == "tag":
        return args in ([], ["-l"], ["--list"])
    if sub == "remote":
        return not args  # names only: -v, show and get-url print URLs
    if sub == "stash":
        return bool(args) and args[0] in ("list", "show")
    if sub == "reflog":
        return not args or args[0] == "show"
    if sub == "cat-file":
        options = [a for a in args if a.startswith("-")]
        return len(options) == 1 and options[0] in CAT_FILE_MODES
    return sub in GIT_SUBCOMMANDS


def _value_ok(value: str, ctx: PathContext) -> bool:
    """An option value or ``rev:path``: every ``:``-separated piece is judged as a path."""
    return path_ok(value, ctx) and all(path_ok(p, ctx) for p in value.split(":")[1:])


def _arg_ok(word: Word, ctx: PathContext) -> bool:
    text = word.value
    if text == "--":
        return True
    if text.startswith("--"):
        name, eq, value = text.partition("=")
        if name.startswith("--batch") or not bp.long_option_ok(name, GIT_SPEC):
            return False
        return not eq or _value_ok(value, ctx)
    if text.startswith("-") and len(text) > 1:  # an attached value may name a file
        return "O" not in text and (len(text) < 3 or _value_ok(text[2:], ctx))
    if text.startswith(":") or any(c in text for c in _PATHSPEC_WILDCARDS):
        return False  # pathspec magic, index paths, ":/message", wildcards
    return word_ok(word, ctx) and _value_ok(text, ctx)


def _grep_exempt(args: Sequence[Word]) -> set[int] | None:
    """Indices of the words git grep takes as its pattern or as non-file option values.

    Options may come anywhere before ``--``; the pattern is the first other word
    unless ``-e`` or ``-f`` gives it. Returns None when there is no pattern
    before ``--`` or such a word is globbed by the shell.
    """
    exempt: set[int] = set()
    operands: list[int] = []
    pattern_given = False
    i = 0
    while i < len(args) and args[i].value != "--":
        text = args[i].value
        if text.startswith("--"):
            if text in _GREP_VALUE_LONG:
                exempt.add(i + 1)
                i += 1
        elif text.startswith("-") and len(text) > 1:
            for k, letter in enumerate(text[1:], start=2):
                if letter not in _GREP_VALUE_SHORT:
                    continue
                pattern_given |= letter in "ef"
                if k == len(text):  # the value is the next word; -f's is a file name
                    if letter != "f":
                        exempt.add(i + 1)
                    i += 1
                break
        else:
            operands.append(i)
        i += 1
    if not pattern_given:
        if not operands:
            return None
        exempt.add(operands[0])
    if any(j >= len(args) or args[j].glob is not None for j in exempt):
        return None
    return exempt


def _patch_option(text: str, sub: str) -> bool:
    long_name = text.partition("=")[0] if text.startswith("--") else ""
    short = set(text[1:]) if text.startswith("-") and not long_name else set()
    if sub == "status":  # -v shows the staged diff, -vv the unstaged one too
        return "v" in short or (len(long_name) > 3 and "--verbose".startswith(long_name))
    if long_name:
        return len(long_name) > 3 and any(
            p.startswith(long_name) or long_name.startswith(p) for p in PATCH_LONG
        )
    return bool(short & PATCH_SHORT)


def prints_contents(sub: str, args: Sequence[str]) -> bool:
    """Whether ``git <sub> <args>`` may print file contents (patches, matches).

    Args:
        sub: The subcommand.
        args: Its arguments.

    Returns:
        True for ``grep``, for ``show``/``diff``/``stash show`` unless only
        stats or names are asked for (``stash.showPatch`` in the repository's
        config may turn patches on), and for ``log``/``reflog``/``stash
        list``/``status`` with a patch, ``--check`` or pickaxe option.
    """
    if sub == "grep":
        return True
    patch = any(_patch_option(a, sub) for a in args)
    if sub in ("show", "diff") or (sub == "stash" and args[:1] == ["show"]):
        return patch or not any(a.partition("=")[0] in NO_PATCH for a in args)
    return patch and sub in ("log", "reflog", "stash", "status")


def repository(ctx: PathContext) -> Discovery | None:
    """The session's repository, when git finds it from every place of `ctx`.

    Args:
        ctx: The context of the git command (after ``cd`` and ``-C``).

    Returns:
        The session's discovery (kind ``none`` or ``worktree``), or None when the
        session's repository is a bare one (or unreadable), its config names a
        program git may run (see `config_runs_programs`), or some place is
        inside a git directory or a different repository.
    """
    session = discover(ctx.base)
    if session.kind not in ("none", "worktree"):
        return None
    if session.kind == "worktree" and config_runs_programs(session.git_dir):
        return None
    for place in ctx.places:
        for directory in {place.physical, os.path.realpath(place.logical)}:
            if discover(directory) != session:
                return None
    return session


def _covers(spec: str, path: str) -> bool:
    return spec in ("", ".") or path == spec or path.startswith(spec + "/")


def _tracked_secrets(repo: Discovery) -> list[str] | None:
    """The secret-looking paths the index tracks (lower-cased), or None if unknown."""
    tracked = tracked_paths(repo.git_dir)
    return None if tracked is None else [p.lower() for p in tracked if is_secret_path(p)]


def _secrets_hidden(
    secrets: Sequence[str], repo: Discovery, args: Sequence[Word], ctx: PathContext
) -> bool:
    """Whether the command's pathspecs (after ``--``) leave every path of `secrets` out."""
    if not secrets:
        return True
    values = [w.value for w in args]
    if "--" not in values:
        return False
    specs = values[values.index("--") + 1 :]
    if not specs:
        return False
    for place in ctx.places:  # git resolves pathspecs by text from its physical cwd
        for spec in specs:
            rel = os.path.relpath(os.path.normpath(os.path.join(place.physical, spec)), repo.top)
            rel = "" if rel == "." else rel.lower()
            if rel.startswith("..") or any(_covers(rel, s) for s in secrets):
                return False
    return True


#: Long options that make ``git log`` show more than its pathspecs: ``--follow``
#: goes on under a file's earlier names, ``--full-diff`` shows every file of a
#: commit that touches them (abbreviations count).
_PATHSPEC_WIDENERS = ("--follow", "--full-diff")
#: Options that add tips the history listing does not reach (other repositories' refs).
_UNLISTED_REFS = ("--alternate-refs",)
#: ``git diff`` options that compare with ``HEAD`` (or another commit) without naming it.
_DIFF_WITH_COMMIT = ("--cached", "--staged", "--merge-base")
_RANGE = re.compile(r"\.\.\.?")
_BASE_END = re.compile(r"[~^:]|@\{")
_HEX_NAME = re.compile(r"[0-9a-fA-F]{4,64}")
#: Root refs such as ``ORIG_HEAD``, ``FETCH_HEAD``, ``AUTO_MERGE``: they may name
#: commits (or trees) that no ref or reflog reaches.
_PSEUDO_REF = re.compile(r"[A-Z_-]+")


def _long_prefix_of(text: str, options: Sequence[str]) -> bool:
    name = text.partition("=")[0]
    return len(name) > 3 and any(o.startswith(name) for o in options)


def _revision_words(
    sub: str, args: Sequence[Word], exempt: set[int], ctx: PathContext
) -> list[str]:
    """The words before ``--`` that git may take for revisions (or object names).

    Options, the words `exempt` (git grep's pattern and option values), the
    ``show``/``list`` of ``stash`` and ``reflog``, and, when there is no ``--``,
    words that exist as paths from every place (git refuses a word that is both
    unless ``--`` follows) are left out. An option's separate value (``-S text``)
    may be counted: that can only make the command ask.
    """
    values = [a.value for a in args]
    dashdash = "--" in values
    words: list[str] = []
    for i, text in enumerate(values):
        if text == "--":
            break
        if i in exempt or text.startswith("-") or (i == 0 and sub in ("stash", "reflog")):
            continue
        if not dashdash and all(
            os.path.lexists(os.path.join(p.physical, text)) for p in ctx.places
        ):
            continue
        words.append(text)
    return words


def _reads_history(sub: str, values: Sequence[str], revisions: Sequence[str]) -> bool:
    """Whether the command may print file contents of commits (not the index or worktree)."""
    if not prints_contents(sub, values):
        return False
    if sub == "show":  # `git show rev:path`: only that path's blob, or a tree's names
        return not revisions or not all(":" in r for r in revisions)
    if sub == "diff":
        return bool(revisions) or any(_long_prefix_of(v, _DIFF_WITH_COMMIT) for v in values)
    if sub == "grep":
        return bool(revisions)
    return True  # log, reflog, stash (show and list) and status -v (HEAD vs the index)


def _walked(revision: str, repo: Discovery, found: History) -> bool:
    """Whether every object `revision` names is (in) a commit of the listed history.

    ``HEAD``, refs and reflog entries, and what lies below them (``~``, ``^``,
    ``:path``) are listed. An object id, or an abbreviation of one, passes only
    when every object it may abbreviate is a listed commit (a blob, a dangling
    commit or a dropped stash is not); root refs (``ORIG_HEAD``, ``FETCH_HEAD``)
    and other names git may find in the git directory, and other worktrees'
    refs, do not pass.
    """
    for part in _RANGE.split(revision):
        base = _BASE_END.split(part.removeprefix("^"), maxsplit=1)[0]
        if base in ("", "HEAD", "@") or base.startswith("refs/"):
            continue
        if base.startswith(("main-worktree/", "worktrees/")) or _PSEUDO_REF.fullmatch(base):
            return False
        if _HEX_NAME.fullmatch(base):
            name = base.lower()
            if name in found.commits:
                continue
            ids = objects_named(repo.git_dir, name)
            if ids is None or not all(i in found.commits for i in ids):
                return False
            continue
        homes = {repo.git_dir, common_dir(repo.git_dir) or repo.git_dir}
        if any(os.path.lexists(os.path.join(home, base)) for home in homes):
            return False
    return True


def _widens_pathspecs(values: Sequence[str], repo: Discovery) -> bool:
    if any(_long_prefix_of(v, _PATHSPEC_WIDENERS) for v in values if v.startswith("--")):
        return True
    entries = config_entries(repo.git_dir)
    return entries is None or any(key == "log.follow" for key, _ in entries)


def _contents_hidden(
    sub: str, args: Sequence[Word], exempt: set[int], repo: Discovery, ctx: PathContext
) -> bool:
    """Whether the command prints no secret file's contents, now or from the history.

    Any ``git show`` and every read of commits' contents needs the history
    (see `git_history`): each revision must be `_walked`, and when the history
    ever held a secret-looking path, the pathspecs must leave all of them out
    (with no ``--follow``, ``--full-diff`` or ``log.follow``). Reads of the index
    and worktree only need the tracked secrets left out.
    """
    values = [a.value for a in args]
    content = prints_contents(sub, values)
    if repo.kind != "worktree":
        return True
    secrets = _tracked_secrets(repo) if content else []
    if secrets is None:
        return False
    revisions = _revision_words(sub, args, exempt, ctx)
    reads_history = _reads_history(sub, values, revisions)
    if sub == "show" or reads_history:
        if any(_long_prefix_of(v, _UNLISTED_REFS) for v in values if v.startswith("--")):
            return False
        found = history(repo.git_dir)
        if found is None or not all(_walked(r, repo, found) for r in revisions):
            return False
        if reads_history and found.secrets:
            if _widens_pathspecs(values, repo):
                return False
            secrets = [*secrets, *found.secrets]
    return _secrets_hidden(secrets, repo, args, ctx)


def _outside_reads_ok(
    sub: str, repo: Discovery, operands: Sequence[Word], ctx: PathContext
) -> bool:
    """``git diff``/``git grep`` on paths outside the worktree read them like ``-r`` does."""
    if sub not in ("diff", "grep"):
        return True
    targets = list(operands)
    if sub == "grep" and repo.kind == "none" and not targets:
        targets.append(_DOT)  # grep.fallbackToNoIndex searches the cwd
    for word in targets:
        if repo.kind == "worktree" and all(
            os.path.commonpath([p, repo.top]) == repo.top
            for place in ctx.places
            for p in ctx.resolve(word.value, place)[1:]
        ):
            continue
        if not scan_ok(word, ctx):
            return False
    return True


def check_git(cmd: SimpleCommand, ctx: PathContext) -> bool:
    """Whether a ``git`` simple command is provably read-only and reads no secret.

    Args:
        cmd: The command (its first word is ``git``).
        ctx: The path context it runs in.

    Returns:
        True only when every rule in this module's description holds.
    """
    words = list(cmd.words[1:])
    git_ctx = ctx
    while words and words[0].value.startswith("-"):
        flag = words.pop(0).value
        if flag == "-C" and words:
            places = change_dir(words.pop(0), git_ctx, physical=True)
            if places is None:
                return False
            git_ctx = ctx.at(places)
        elif flag not in GIT_GLOBAL_FLAGS:
            return False
    if not words or words[0].glob is not None:
        return False
    sub, args = words[0].value, words[1:]
    values = [a.value for a in args]
    if not _subcommand_ok(sub, values):
        return False
    repo = repository(git_ctx)
    if repo is None:
        return False
    exempt = _grep_exempt(args) if sub == "grep" else set()
    if exempt is None:
        return False
    if not all(i in exempt or _arg_ok(a, git_ctx) for i, a in enumerate(args)):
        return False
    if not _contents_hidden(sub, args, exempt, repo, git_ctx):
        return False
    operands = [
        a
        for i, a in enumerate(args)
        if i not in exempt and a.value != "--" and not a.value.startswith("-")
    ]
    return _outside_reads_ok(sub, repo, operands, git_ctx)
