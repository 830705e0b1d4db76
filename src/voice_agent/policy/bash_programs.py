"""Per-program option tables for the bash auto-approval policy.

Each allowlisted program gets a `Spec` describing its options (see
`bash_parse.parse_args`), plus the extra tables the policy in `safety` needs:
grep/rg pattern and recursion options, ``--version``-style invocations and find
primaries. Git has its own tables and rules in `git_policy`.
"""

from __future__ import annotations

from dataclasses import replace

from voice_agent.policy.bash_parse import Spec


def _fs(names: str) -> frozenset[str]:
    return frozenset(names.split())


#: Long options that make a program read the names of the files to read from a
#: file or stdin (``--files0-from=-``): what it reads is then unknown. Refused
#: in every program, with their abbreviations.
FILE_LIST_OPTIONS = ("files0-from", "files-from", "fromfile", "fromtabfile")


def _spec(short: str, free: str, bad_short: str = "", bad_long: str = "", long: str = "") -> Spec:
    bad = (*bad_long.split(), *FILE_LIST_OPTIONS)
    return Spec(True, short, _fs(long), _fs(free), bad_short, bad)


_INFO = Spec(paths=False)  # arguments are not file names
_GREP = replace(
    _spec(
        "ABCDdefm",
        "-A -B -C -D -d -e -m --regexp --after-context --before-context --context --max-count "
        "--label --include --exclude --exclude-dir --binary-files --devices --group-separator "
        "--color --colour --directories",
        "X",  # -X MATCHER: undocumented, would shift the pattern position
        long="--regexp --file --after-context --before-context --context --max-count --label "
        "--include --exclude --exclude-dir --directories --exclude-from --devices "
        "--binary-files --group-separator",
    ),
    exact_long=tuple(
        "recursive dereference-recursive directories regexp file exclude-from".split()
    ),
    known_long=_fs("--file"),  # the pattern file: not an abbreviation of --files-from
    # Claude Code's Bash tool runs its embedded ugrep for `grep`, whose other
    # options load configs, run filters and pagers, or take values GNU grep's
    # don't: only GNU grep's own options (spelled in full) pass.
    allow_long=_fs(
        "--extended-regexp --fixed-strings --basic-regexp --perl-regexp --regexp --file "
        "--ignore-case --no-ignore-case --word-regexp --line-regexp --null-data --no-messages "
        "--invert-match --version --help --max-count --byte-offset --line-number "
        "--line-buffered --with-filename --no-filename --label --only-matching --quiet "
        "--silent --binary-files --text --directories --devices --recursive "
        "--dereference-recursive --include --exclude --exclude-from --exclude-dir "
        "--files-without-match --files-with-matches --count --initial-tab --null "
        "--before-context --after-context --context --group-separator --no-group-separator "
        "--color --colour --binary"
    ),
    allow_short="EFGPefiywxzsvVmbnHhoqaIdDrRLlcTZABCU",
)
_RG_OPTIONS = _spec(
    "ABCEefgjMmrTtd",
    "-A -B -C -E -e -g -j -M -m -r -T -t -d --regexp --glob --iglob --type --type-not "
    "--after-context --before-context --context --max-count --max-depth --replace --type-add "
    "--encoding --threads --max-columns --color --colors --sort --sortr --max-filesize "
    "--context-separator --engine --type-clear --path-separator --dfa-size-limit "
    "--regex-size-limit --field-context-separator --field-match-separator",
    "z",
    "pre pre-glob search-zip hostname-bin",
    long="--regexp --file --glob --iglob --type --type-not --after-context --before-context "
    "--context --max-count --max-depth --replace --ignore-file --type-add --encoding --color "
    "--colors --threads --max-columns --sort --sortr --max-filesize --context-separator "
    "--engine --type-clear --path-separator --dfa-size-limit --regex-size-limit "
    "--field-context-separator --field-match-separator",
)
_RG = replace(_RG_OPTIONS, known_long=_fs("--file --files"))

#: Option rules of the allowlisted programs: (short options taking a value, options
#: whose value is not a path, forbidden short options, forbidden long options).
SPECS: dict[str, Spec] = {
    **dict.fromkeys(
        "basename dirname which type whoami id uname pwd true false echo tr".split(), _INFO
    ),
    **dict.fromkeys("cat wc realpath readlink".split(), Spec(bad_long=FILE_LIST_OPTIONS)),
    "printf": Spec(paths=False, bad_short="v"),
    "ls": _spec(
        "ITw", "-I -T -w --hide --ignore --width --tabsize --format --sort", "L", "dereference"
    ),
    "head": _spec("nc", "-n -c --lines --bytes"),
    "tail": _spec("nc", "-n -c --lines --bytes", "fFs", "follow retry pid sleep-interval"),
    # -f/--files-from reads names from a file; -m takes a colon-separated list of
    # magic files; -z/-Z run decompressors.
    "file": _spec(
        "eFP",
        "-e -F -P --exclude --separator --parameter",
        "CfmzZ",
        "compile magic-file uncompress uncompress-noreport",
    ),
    "stat": _spec("c", "-c --format --printf"),
    "du": _spec(
        "BdtX", "-B -d -t --block-size --max-depth --threshold --exclude", "L", "dereference"
    ),
    "df": _spec("Btx", "-B -t -x --block-size --type --exclude-type --output"),
    "tree": _spec("LPI", "-L -P -I --filelimit --timefmt --sort --charset", "oRl", "output"),
    "date": _spec("dIr", "-d -I --date --iso-8601 --rfc-3339", "sf", "set file"),
    "sort": _spec(
        "kSt",
        "-k -S -t --key --buffer-size --field-separator --parallel --batch-size --sort",
        "oT",
        "output compress-program temporary-directory",
    ),
    "uniq": _spec("fsw", "-f -s -w --skip-fields --skip-chars --check-chars --group"),
    "cut": _spec("bcfd", "-b -c -f -d --bytes --characters --fields --delimiter"),
    "nl": _spec("bdfhilnsvw", "-b -d -f -h -i -l -n -s -v -w"),
    # Every operand and every value naming a file (--from-file, --to-file,
    # -X/--exclude-from, -S/--starting-file) is read, recursively with -r.
    "diff": _spec(
        "CUFILxXDWS",
        "-C -U -F -I -L -x -D -W --label --exclude --context --unified --ignore-matching-lines "
        "--show-function-line --ifdef --width --tabsize --horizon-lines --palette --color "
        "--line-format --old-line-format --new-line-format --unchanged-line-format "
        "--old-group-format --new-group-format --unchanged-group-format --changed-group-format",
        long="--label --exclude --exclude-from --starting-file --from-file --to-file "
        "--ignore-matching-lines --show-function-line --ifdef --width --tabsize --horizon-lines "
        "--palette --line-format --old-line-format --new-line-format --unchanged-line-format "
        "--old-group-format --new-group-format --unchanged-group-format --changed-group-format",
    ),
    "cmp": _spec("in", "-i -n --ignore-initial --bytes"),
    "comm": _spec("", "--output-delimiter"),
    "column": _spec("csoNlRHOWEirpn", "-c -s -o --columns --separator --output-separator"),
    "grep": _GREP,
    "egrep": _GREP,
    "fgrep": _GREP,
    "rg": _RG,
}
#: Programs that read every operand and every file-naming option value, descending
#: into directories: each is scanned like a tree (grep and rg when recursive).
SCANNED = _fs("diff")
#: Options that supply the grep/rg pattern, so no positional is the pattern.
PATTERN_OPTIONS = _fs("-e -f --regexp --file")
#: Options that make grep recurse into directories (ugrep's ``-2`` … ``-9``, recursion
#: depths, are digit flags: see `safety`).
GREP_RECURSIVE = _fs("-r -R --recursive --dereference-recursive")

#: ``<tool> <flag>`` pairs that only print a version or usage text.
VERSION_TOOLS: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        "python python3 node npm git cargo go ruff mypy uv pip".split(), _fs("--version -V --help")
    ),
    "pytest": _fs("--version -V"),  # `pytest --help` imports conftest.py: project code
}

#: find primaries without an argument, and operators.
FIND_NOARG = _fs(
    "-print -print0 -ls -prune -empty -true -false -depth -quit -readable -writable "
    "-executable -not -a -o -and -or -nowarn -mount -xdev -daystart -noleaf -nouser "
    "-nogroup ( ) ! ,"
)
#: find primaries that take exactly one argument (``-newerXY`` is handled apart).
FIND_ARG = _fs(
    "-name -iname -path -ipath -wholename -iwholename -lname -ilname -regex -iregex "
    "-regextype -type -xtype -maxdepth -mindepth -mtime -mmin -atime -amin -ctime -cmin "
    "-used -size -user -group -uid -gid -perm -links -inum -printf -fstype -samefile"
)
