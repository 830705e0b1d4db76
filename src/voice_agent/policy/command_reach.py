"""What a command can reach beyond its own words, for the bounds of sticky rules.

Tables only (the logic is in :mod:`voice_agent.policy.rule_scope`):

* programs whose every argument matters (interpreters, runners, wrappers, destructive,
  network and secret-store programs): a rule covers only the exact command;
* programs used as ``prog subcommand …``, the subcommands that run other programs or
  install code (``uv run``, ``npm install``, ``docker exec``) and so match exactly, and
  the subcommands with subcommands of their own (``git stash list``, ``gh pr view``);
* per program, the options that run programs, write files outside what the program
  normally writes, or read lists of file names (:class:`Reach`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def _fs(names: str) -> frozenset[str]:
    return frozenset(names.split())


#: Interpreters, shells and debuggers, with any version suffix (``python3.12``,
#: ``pypy3.10``, ``node20``, ``ruby3.2``, ``perl5.36``, ``php8.2``, ``python3.13t``).
INTERPRETER = re.compile(
    r"(?:python|py|pypy|jython|ipython|node|nodejs|deno|bun|ruby|jruby|truffleruby|irb|perl|"
    r"php|lua|luajit|tclsh|wish|r|rscript|julia|java|jshell|groovy|scala|kotlin|kotlinc|swift|"
    r"elixir|iex|erl|escript|clojure|clj|ghci|runghc|runhaskell|racket|guile|sbcl|clisp|ocaml|"
    r"qjs|ts-node|tsx|esno|osascript|pwsh|powershell|awk|gawk|mawk|nawk|sh|bash|zsh|dash|fish|"
    r"ksh|mksh|csh|tcsh|ash|busybox|toybox|expect|gdb|lldb|vi|vim|nvim|view|ex|emacs|nano)"
    r"(?:[0-9][0-9.]*[a-z]?)?(?:-[a-z0-9.]+)?(?:\.exe)?"
)

#: Programs whose every argument matters: a rule for them covers only the exact command.
EXACT_ONLY_PROGRAMS = _fs(
    """
    eval exec source . command builtin enable sudo su doas pkexec runuser sg newgrp env
    printenv export set declare typeset alias unalias readonly trap nohup nice ionice chrt
    taskset numactl prlimit timeout time stdbuf unbuffer script setsid flock chroot unshare
    nsenter firejail bwrap xvfb-run dbus-run-session systemd-run start-stop-daemon strace
    ltrace valgrind perf hyperfine watch watchexec entr nodemon xargs parallel find pushd popd
    npx pnpx bunx uvx pipx corepack cross-env dotenv env-cmd concurrently pm2 forever
    nix nix-shell nix-env guix flatpak snap open xdg-open gio code cursor codium subl
    rm rmdir mv cp dd shred chmod chown chgrp ln install truncate mkfs mount umount fdisk
    parted kill pkill killall reboot shutdown halt poweroff systemctl service launchctl
    crontab at batch curl wget ssh scp sftp rsync nc ncat netcat socat telnet ftp tftp lftp
    aria2c http https xh sed gsed tee cpio git-shell gpg gpg2 pass gopass op bw lpass vault
    security keyctl secret-tool sops age ansible-vault git-crypt ssh-add ssh-keygen ssh-agent
    """
)

#: Programs used as ``prog subcommand …``: a rule covers that subcommand.
SUBCOMMAND_PROGRAMS = _fs(
    """
    git npm yarn pnpm cargo go docker podman kubectl helm pip pip3 uv poetry pdm hatch
    make just gh terraform dotnet mvn gradle bundle rake brew apt apt-get conda mamba
    micromamba mix composer tox nox pre-commit ruff tar gem pixi pipenv rye lerna stack
    cabal dune opam rbenv pyenv nodenv asdf mise bazel bazelisk sbt lein nx turbo aws
    gcloud az doctl flyctl heroku vercel netlify firebase wrangler
    """
)

#: Subcommands (anywhere among the words) that run other programs or install code:
#: a rule covers only the exact command. ``"pip sync"`` means ``pip`` then ``sync``.
EXACT_SUBCOMMANDS: dict[str, tuple[str, ...]] = {
    "npm": tuple(
        "exec x install i in isntall add update up upgrade create init innit explore edit "
        "rebuild rb publish unpublish config c set pkg token login adduser add-user link ln "
        "install-test it install-ci-test cit".split()
    ),
    "pnpm": tuple(
        "exec dlx add install i update up upgrade create init config c set pkg link ln "
        "publish env".split()
    ),
    "yarn": tuple(
        "exec dlx add install up upgrade create init config set plugin link publish npm "
        "node".split()
    ),
    "cargo": tuple("run r install login publish owner yank".split()),
    "go": tuple("run install get".split()),
    "docker": tuple("run exec create cp login plugin".split()),
    "podman": tuple("run exec create cp login plugin".split()),
    "kubectl": tuple("exec run debug attach cp port-forward proxy plugin krew".split()),
    "helm": ("plugin",),
    "pip": tuple("install download wheel config".split()),
    "pip3": tuple("install download wheel config".split()),
    "uv": ("run", "tool", "add", "install", "pip sync"),
    "poetry": tuple("run add self shell".split()),
    "pdm": tuple("run add exec self".split()),
    "hatch": ("run", "shell"),
    "pipenv": ("run", "shell", "install"),
    "rye": tuple("run add install tools".split()),
    "pixi": tuple("run exec add global shell".split()),
    "conda": ("run", "install", "create"),
    "mamba": ("run", "install", "create"),
    "micromamba": ("run", "install", "create"),
    "bundle": ("exec", "add", "config"),
    "gem": ("install", "update"),
    "brew": tuple("install reinstall upgrade tap sh ruby irb bundle".split()),
    "apt": ("install", "reinstall", "build-dep", "source"),
    "apt-get": ("install", "reinstall", "build-dep", "source"),
    "composer": ("exec", "require", "global", "create-project"),
    "dotnet": ("run", "exec", "tool", "add"),
    "mix": ("run", "do", "archive.install", "escript.install"),
    "tox": ("exec",),
    "pre-commit": ("try-repo",),
    "gh": tuple("extension ext api alias auth codespace cs".split()),
    "lerna": ("exec",),
    "stack": tuple("exec run runghc runhaskell ghci eval repl script".split()),
    "cabal": ("exec", "run", "repl"),
    "dune": ("exec", "utop"),
    "opam": ("exec",),
    "rbenv": ("exec", "install"),
    "pyenv": ("exec", "install"),
    "nodenv": ("exec", "install"),
    "asdf": ("exec", "install", "plugin"),
    "mise": ("exec", "x", "install", "plugins"),
    "bazel": ("run",),
    "bazelisk": ("run",),
    "sbt": ("run", "console"),
    "lein": ("run", "repl"),
    "nx": ("exec",),
    "git": ("credential",),
}

#: ``prog sub`` pairs whose ``sub`` has subcommands of its own: the rule keeps the next
#: word too (``git stash list`` does not cover ``git stash drop``). ``*``: every one.
NESTED_SUBCOMMANDS: dict[str, frozenset[str]] = {
    "git": _fs("stash remote submodule worktree bisect notes sparse-checkout lfs reflog"),
    "docker": _fs("compose buildx image container network volume system context builder"),
    "podman": _fs("compose image container network volume system machine pod"),
    "kubectl": _fs("config rollout auth set top"),
    "uv": _fs("pip tool python cache"),
    "go": _fs("mod"),
    "helm": _fs("repo plugin dependency"),
    "terraform": _fs("state workspace providers"),
    "poetry": _fs("env self source"),
    "conda": _fs("env"),
    "dotnet": _fs("tool nuget"),
    "pip": _fs("cache config"),
    "pip3": _fs("cache config"),
    **dict.fromkeys("gh aws gcloud az doctl flyctl heroku".split(), frozenset({"*"})),
}
#: How many subcommand words a rule keeps for programs with deep command trees.
SUBCOMMAND_DEPTH: dict[str, int] = {"gcloud": 3, "az": 3}

#: ``prog run X``: the rule covers script X, not every script.
RUN_SUBCOMMANDS = _fs("run run-script")

#: A first argument that names a script or binary to run (``dotnet app.dll``).
SCRIPT_ARGUMENT = re.compile(
    r".+\.(?:js|mjs|cjs|ts|mts|cts|jsx|tsx|py|pyz|rb|dll|exe|dart|jar|php|pl|sh|bash|zsh|lua|"
    r"exs|swift|kts|groovy|scala|r|jl|ps1)",
    re.IGNORECASE,
)

#: Harmless commands allowed beside covered ones in a compound command.
INERT_PROGRAMS = _fs("echo true false pwd")

#: Programs that read whole directory trees named on their command line.
RECURSIVE_READERS = _fs("grep egrep fgrep rg ag ack ack-grep ugrep diff tar zip 7z 7za cpio rsync")
#: Of those, the ones that search the working directory when given no directory.
SEARCHES_CWD = _fs("rg ag ack ack-grep ugrep")


@dataclass(frozen=True)
class Reach:
    """Options of one program (or ``program subcommand``) that no sticky rule covers.

    Attributes:
        short: Letters refused anywhere in a ``-abc`` cluster.
        long: ``--name`` options refused, with every abbreviation (as getopt allows).
        keep: Long options allowed although they abbreviate a refused one.
        words: Whole words refused (a regular expression, matched in full).
        inside: Options whose value must stay inside the working directory.
        single_dash: Long options are spelled ``-name`` (go, terraform).
        first_cluster: The first word is an option cluster without ``-`` (``tar xf``).
    """

    short: str = ""
    long: tuple[str, ...] = ()
    keep: frozenset[str] = frozenset()
    words: re.Pattern[str] | None = None
    inside: tuple[str, ...] = ()
    single_dash: bool = False
    first_cluster: bool = False


def _reach(
    short: str = "",
    long: str = "",
    *,
    keep: str = "",
    words: str = "",
    inside: str = "",
    single_dash: bool = False,
    first_cluster: bool = False,
) -> Reach:
    return Reach(
        short,
        tuple(long.split()),
        _fs(keep),
        re.compile(words, re.DOTALL) if words else None,
        tuple(inside.split()),
        single_dash,
        first_cluster,
    )


# A make/just argument or override value made of anything but plain name characters
# could be spliced into a recipe's shell line; SHELL and MAKEFLAGS change how it runs.
_PLAIN_ARG = (
    r"[^-].*[^\w.,/:@%+=-].*"
    r"|(?i:shell|\.shellflags|makeflags|mflags|makefiles|make|gnumakeflags|makeshell)[:+?!]?=.*"
)
_GIT_EXEC_KEYS = (
    r"(?i:.*(alias\.|\.cmd\b|command|pager|editor|program|helper|hookspath|sshcommand|"
    r"fsmonitor|askpass|proxy|textconv|driver|include|external|exec|filter\.|\.clean\b|"
    r"\.smudge\b|\.process\b|sendmail|smtpserver|worktree|gitdir|insteadof|protocol|"
    r"credential|receivepack|uploadpack|packobjectshook|\.tool\b|\burl\b|pushurl).*)"
)
# npm and pnpm take any config key as an option, also as ``--config.key``.
_NPM_CONFIG = (
    r"--.*(?:shell|node-options|userconfig|globalconfig|init-module|node-gyp|editor|browser|"
    r"viewer|npmrc|rc-filename).*"
)
# JVM build tools: properties that load agents or extensions or pick programs to run.
_JVM_KEYS = (
    r"-[DP](?i:.*(exec|argline|agent|jvm|ext\.class|executable|classpath|toolchain|plugin|"
    r"java\.home|init).*)"
)

#: Options that run programs, write files or read file lists, per program.
REACH: dict[str, Reach] = {
    "git": _reach(
        "O",
        "template batch batch-check batch-command batch-all-objects stdin pathspec-from-file "
        "upload-archive",
    ),
    "git clone": _reach("uc", "config separate-git-dir"),
    "git init": _reach("", "separate-git-dir"),
    "git submodule": _reach(words="foreach"),
    "git bisect": _reach(words="run"),
    "git rebase": _reach("x"),
    "git difftool": _reach("xt", "extcmd tool"),
    "git mergetool": _reach("t", "tool"),
    "git config": _reach(
        "el", "edit list get-regexp get-all get-urlmatch", words=_GIT_EXEC_KEYS, inside="-f --file"
    ),
    "git remote": _reach("v", "verbose", words="get-url|show"),
    "git push": _reach(
        "fd",
        "force force-with-lease force-if-includes mirror delete prune",
        words=r"[+:].*",
    ),
    "git clean": _reach("f", "force"),
    "git reset": _reach("", "hard merge keep"),
    "git checkout": _reach("f", "force"),
    "git add": _reach("f", "force"),
    "git format-patch": _reach(inside="-o --output-directory"),
    "git archive": _reach("", "remote"),
    "git ls-remote": _reach("u"),
    "git send-email": _reach("", "smtp-server sendmail-cmd to-cmd cc-cmd header-cmd"),
    "git filter-branch": _reach(
        "",
        "tree-filter index-filter msg-filter env-filter parent-filter commit-filter "
        "tag-name-filter setup",
    ),
    "tar": _reach(
        "IFPTU",
        "to-command use-compress-program checkpoint-action info-script new-volume-script "
        "rsh-command rmt-command absolute-names remove-files recursive-unlink unlink-first "
        "files-from index-file volno-file",
        keep="checkpoint",
        words=r"[^-/][^/]*:.*",
        inside="-C --directory",
        first_cluster=True,
    ),
    "zip": _reach("T@", "unzip-command names-stdin test"),
    "cpio": _reach("", "rsh-command"),
    "rsync": _reach(
        "e", "rsh rsync-path files-from write-batch only-write-batch read-batch log-file"
    ),
    "sort": _reach("", "files0-from random-source"),
    "wc": _reach("", "files0-from"),
    "du": _reach("", "files0-from"),
    "file": _reach("f", "files-from"),
    "find": _reach(
        words=r"-(?:exec|execdir|ok|okdir|delete|fprint|fprint0|fprintf|fls|files0-from)",
        single_dash=True,
    ),
    "less": _reach(
        "oOk", "log-file LOG-FILE lesskey-file lesskey-src lesskey-content", words=r"\+.*"
    ),
    "more": _reach(words=r"\+.*"),
    "man": _reach("PHC", "pager html config-file"),
    "ack": _reach("x", "pager ackrc files-from"),
    "ack-grep": _reach("x", "pager ackrc files-from"),
    "ag": _reach("z", "pager search-zip"),
    "ugrep": _reach("z", "pager filter decompress"),
    "jq": _reach(words=r".*(?:\benv\b|\$ENV|\$__loc__|\binput_filename\b).*"),
    "yq": _reach(
        "i",
        "inplace",
        words=r".*\b(?:env|strenv|load|load_str|load_yaml|load_xml|load_props|load_base64|"
        r"eval|envsubst)\b.*",
    ),
    "curl": _reach(
        "oOTKDcF",
        "output remote-name upload-file config dump-header cookie-jar trace trace-ascii "
        "libcurl stderr output-dir remote-name-all etag-save hsts alt-svc form",
    ),
    "wget": _reach(
        "OoaPie",
        "output-document output-file append-output directory-prefix input-file execute "
        "config post-file body-file use-askpass",
    ),
    "ssh": _reach("oFEWJ"),
    "scp": _reach("SoFJ"),
    "npm": _reach(
        "c",
        "script-shell node-options userconfig globalconfig call init-module editor browser "
        "viewer git node-gyp shell",
        keep="global",
        words=_NPM_CONFIG,
        inside="-C --prefix",
    ),
    "pnpm": _reach(
        "", "script-shell node-options config shell-emulator", words=_NPM_CONFIG, inside="-C --dir"
    ),
    "yarn": _reach("", "script-shell node-options rc-filename", words=_NPM_CONFIG, inside="--cwd"),
    "cargo": _reach(
        "Z", "config", inside="--manifest-path --target-dir -C --artifact-dir --out-dir"
    ),
    "go": _reach(
        words=r"--?(?:exec|toolexec|vettool|overlay)(?:=.*)?",
        inside="-o -C -modfile -pkgdir",
        single_dash=True,
    ),
    "go env": _reach(words=r"--?[wu](?:=.*)?"),
    "docker": _reach("H", "config host context"),
    "docker build": _reach("o", "output secret ssh allow", inside="-f --file"),
    "docker buildx": _reach("o", "output secret ssh allow", inside="-f --file"),
    "podman": _reach("", "config url connection"),
    "podman build": _reach("o", "output secret ssh", inside="-f --file"),
    "kubectl": _reach("", "kubeconfig as as-group as-uid token raw"),
    "helm": _reach("", "post-renderer kubeconfig"),
    "pip": _reach("", "src log", inside="-t --target --prefix --root"),
    "pip3": _reach("", "src log", inside="-t --target --prefix --root"),
    "uv": _reach("", "", inside="--directory --project"),
    "poetry": _reach("", "", inside="-C --directory -P --project"),
    "pdm": _reach("", "", inside="-p --project"),
    "make": _reach(
        "E", "eval", words=_PLAIN_ARG, inside="-C --directory -f --file --makefile -I --include-dir"
    ),
    "just": _reach(
        "c",
        "shell shell-arg shell-command command set",
        words=_PLAIN_ARG,
        inside="-f --justfile -d --working-directory --dotenv-path",
    ),
    "rake": _reach(
        "epErIg",
        "execute execute-print execute-continue require libdir system",
        inside="-f --rakefile -R --rakelibdir -C --directory",
    ),
    "tox": _reach("x", "override installpkg", inside="-c --conf --root --workdir"),
    "nox": _reach("P", "force-python extra-python", inside="-f --noxfile"),
    "pre-commit": _reach(inside="-c --config"),
    "pytest": _reach(
        inside="--basetemp --junitxml --junit-xml --rootdir -c --config-file --confcutdir "
        "--log-file --result-log --resultlog"
    ),
    "mypy": _reach(
        "",
        "python-executable",
        inside="--cache-dir --junit-xml --html-report --txt-report --xml-report "
        "--linecount-report --any-exprs-report --cobertura-xml-report --lineprecision-report "
        "--config-file",
    ),
    "ruff": _reach(inside="-o --output-file --cache-dir"),
    "terraform": _reach(words=r"--?plugin-dir(?:=.*)?", single_dash=True),
    "gradle": _reach(
        "I",
        "init-script",
        words=_JVM_KEYS,
        inside="-b --build-file -c --settings-file -p --project-dir --include-build -g "
        "--gradle-user-home",
    ),
    "mvn": _reach(
        words=r"[\w.-]+:[\w.:-]+|" + _JVM_KEYS,
        inside="-f --file -s --settings -gs --global-settings -t --toolchains",
    ),
    "apt": _reach("oc", "option config-file"),
    "apt-get": _reach("oc", "option config-file"),
    "composer": _reach(inside="-d --working-dir"),
    "mix": _reach("e", "eval"),
    # The awk family is looked up as "awk": program text that runs commands, pipes,
    # writes or reads other files, and the options that load program files.
    "awk": _reach(
        "filEopdD",
        "file include load exec pretty-print profile dump-variables debug",
        words=r".*(?:system|\||>|getline|@|ENVIRON|PROCINFO).*",
    ),
}
