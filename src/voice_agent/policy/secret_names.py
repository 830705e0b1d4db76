"""Which file names look like they hold a secret.

Judged by name alone, case-insensitively, one path component at a time (plus a
few two-component rules such as ``.config/gh``). The lists are generous: a
false "secret" only costs a question on the phone, a missed one leaks a token.
Ordinary source files (``keys.py``, ``tokenizer.py``, ``env.d.ts``,
``config.env.ts``, ``secret_names.py``) are not secret.
"""

from __future__ import annotations

import itertools

#: Directories whose whole content is credentials.
SECRET_DIRS = frozenset(
    ".ssh .gnupg .aws .azure .kube .docker .password-store .terraform .terraform.d .oci "
    ".gcloud .vault".split()
)
#: Directories under ``.config`` whose content is credentials.
SECRET_CONFIG_DIRS = frozenset("gcloud gh hub sops op doctl rclone age".split())
#: File names that hold credentials, tokens or shell history.
SECRET_NAMES = frozenset(
    ".netrc _netrc .npmrc .pypirc .htpasswd htpasswd shadow gshadow .envrc .pgpass "
    ".vault-token .terraformrc terraform.rc .boto .s3cfg .passwd-s3fs .my.cnf .mylogin.cnf "
    ".dockercfg kubeconfig .xauthority wallet.dat .histfile .lesshst".split()
)
#: Endings of secret file names: keys, keystores, VPN profiles, Terraform variables
#: and state, kubeconfigs, tokens, histories.
SECRET_SUFFIXES = (
    *".pem .key .p12 .pfx .p8 .ppk .kdbx .kdb .keystore .jks .bks .jceks .keytab .agekey".split(),
    *".keychain .keychain-db .ovpn .tfvars .tfvars.json .tfstate .tfstate.backup".split(),
    *".kubeconfig _token -token .token _history".split(),
)
#: Beginnings of secret file names.
SECRET_PREFIXES = (
    *"id_rsa id_dsa id_ecdsa id_ed25519 id_xmss service-account service_account".split(),
    *"kubeconfig private_key privkey krb5cc_".split(),
)
#: Words that make a name secret wherever they appear in it, except in a source
#: file (`SOURCE_SUFFIXES`) whose stem is more than the word: ``secrets.yaml``,
#: ``client_secret.json``, ``secrets/`` and ``secrets.py`` are secret,
#: ``secret_names.py`` and ``test_secrets.py`` are code.
SECRET_WORDS = ("secret", "credentials")
#: Stems that stay secret whatever the suffix.
SECRET_STEMS = frozenset(
    "secret secrets credential credentials client_secret client_secrets".split()
)
#: Suffixes of source code and documentation.
SOURCE_SUFFIXES = frozenset(
    "py pyi js mjs cjs jsx ts mts cts tsx go rs rb java kt kts swift c h cc cpp hpp cs php "
    "scala ex exs md rst vue svelte".split()
)
#: Last suffixes of environment-file templates, which hold no values.
ENV_TEMPLATES = frozenset("example sample template dist tmpl defaults".split())
#: Source and document extensions: ``config.env.ts`` is code, not an env file.
CODE_SUFFIXES = SOURCE_SUFFIXES | frozenset("txt html css scss d".split())
#: Files of a git directory that may carry credentials (remote URLs, tokens).
GIT_DIR_SECRETS = frozenset({"config", "config.worktree"})


def _env_file(name: str) -> bool:
    """``.env``, ``.env.local``, ``prod.env``, ``prod.env.local``; not templates or code."""
    segments = name.split(".")
    if "env" not in segments[1:]:
        return False
    last = segments[-1]
    if last in ENV_TEMPLATES:
        return False
    if name.startswith(".env") or last == "env":
        return True
    return last not in CODE_SUFFIXES


def _secret_word(name: str) -> bool:
    if not any(w in name for w in SECRET_WORDS):
        return False
    stem, dot, suffix = name.rpartition(".")
    return not dot or suffix not in SOURCE_SUFFIXES or stem.lstrip(".") in SECRET_STEMS


def secret_name(name: str) -> bool:
    """Whether one lower-case path component looks like a secret.

    Args:
        name: A single file or directory name, lower-cased.

    Returns:
        True for credential directories and files, keys and keystores,
        environment files, tokens and shell histories.
    """
    if name in SECRET_DIRS or name in SECRET_NAMES or _secret_word(name):
        return True
    if _env_file(name):
        return True
    return name.endswith(SECRET_SUFFIXES) or name.startswith(SECRET_PREFIXES)


def is_secret_path(path: str) -> bool:
    """Whether any component of `path` looks like it holds a secret.

    Args:
        path: A file system path, absolute or relative (not expanded).

    Returns:
        True for SSH/GPG/cloud credential directories, ``.env`` files (``.env``,
        ``.env.*``, ``*.env``, but not templates such as ``.env.example``), key
        and keystore files, credential, token and history files, Terraform
        variables and state, kubeconfigs, the ``config`` of a ``.git`` (or
        ``*.git``) directory, and anything named ``*secret*`` or
        ``*credentials*`` but source files that only mention the word
        (all case-insensitive).
    """
    parts = [p for p in path.replace("\\", "/").lower().split("/") if p]
    if any(a == ".config" and b in SECRET_CONFIG_DIRS for a, b in itertools.pairwise(parts)):
        return True
    if parts and parts[-1] in GIT_DIR_SECRETS and any(p.endswith(".git") for p in parts[:-1]):
        return True
    return any(secret_name(part) for part in parts)
