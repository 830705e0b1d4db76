"""Every module imports on its own in a fresh interpreter, no module import circle, layers.

A circle between packages shows only when a module that sits inside it is the
first one imported (``python -c "import voice_agent.agent.client"``), which no
test importing ``voice_agent.sessions`` first would notice; the graph test finds
every circle from the source, function-local imports included, so none can hide
behind an import moved into a function.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import voice_agent

PACKAGE = Path(voice_agent.__file__).parent

# What each layer may import from voice_agent (DESIGN: front ends → sessions →
# policy / store / agent / speech).
LAYERS = {
    "voice_agent.agent": ("voice_agent.agent",),
    # redaction is a leaf (the standard library only): URLs and errors shown safely.
    "voice_agent.speech": ("voice_agent.speech", "voice_agent.redaction"),
    "voice_agent.policy": ("voice_agent.policy",),
    "voice_agent.store": ("voice_agent.store",),
    "voice_agent.sessions": (
        "voice_agent.sessions",
        "voice_agent.agent",
        "voice_agent.policy",
        "voice_agent.store",
    ),
    # Several machines: the hub and worker run the core; no front end below them.
    "voice_agent.machines": (
        "voice_agent.machines",
        "voice_agent.config",
        "voice_agent.sessions",
        "voice_agent.agent",
        "voice_agent.policy",
        "voice_agent.store",
        "voice_agent.speech",
        "voice_agent.redaction",
        # Core helpers the worker runs for the hub (/diff there; an Edit's placed preview).
        "voice_agent.workdir_diff",
        "voice_agent.edit_preview",
    ),
    # The Telegram front end's own tables sit on the store's database only.
    "voice_agent.telegram.state": ("voice_agent.telegram.state", "voice_agent.store"),
}


# Imports each module named in argv[2] in a child forked from an interpreter that has
# loaded only the third-party and standard modules named in argv[1] (no voice_agent
# module), several children at a time; prints {module: error} for those that failed.
_IMPORTER = """
import importlib, json, os, sys
preload, modules = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for name in preload:
    try:
        importlib.import_module(name)
    except Exception:
        pass
assert not [m for m in sys.modules if m.split(".")[0] == "voice_agent"]
failures, running = {}, {}

def reap():
    pid, status = os.wait()
    module, pipe = running.pop(pid)
    message = pipe.read().decode()
    pipe.close()
    if status:
        failures[module] = message or f"wait status {status}"

for module in modules:
    if len(running) >= 4:
        reap()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(module)
        except BaseException as error:
            os.write(write, f"{type(error).__name__}: {error}".encode())
            os._exit(1)
        os._exit(0)
    os.close(write)
    running[pid] = (module, os.fdopen(read, "rb"))
while running:
    reap()
print(json.dumps(failures))
"""


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _modules() -> list[str]:
    found = pkgutil.walk_packages([str(PACKAGE)], "voice_agent.")
    return ["voice_agent", *sorted(module.name for module in found)]


def _outside_imports() -> list[str]:
    """Every module outside voice_agent that its files import, anywhere in them."""
    names = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
    return sorted(name for name in names if name.split(".")[0] != "voice_agent")


def test_each_module_imports_in_a_fresh_interpreter() -> None:
    """No module needs another voice_agent module to be imported first.

    Each module is imported in a new process that holds no voice_agent module. The
    libraries are loaded once before the processes fork from it, which keeps the
    test fast and hides nothing: a circle is between voice_agent's own modules.
    """
    modules = _modules()
    assert "voice_agent.agent.client" in modules
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTER, json.dumps(_outside_imports()), json.dumps(modules)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {}


def _imports(path: Path) -> list[str]:
    """The voice_agent modules a file imports at its top level (not for type checking)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and inner.module and inner.level == 0:
                names.append(inner.module)
            elif isinstance(inner, ast.Import):
                names.extend(alias.name for alias in inner.names)
    return [name for name in names if name.split(".")[0] == "voice_agent"]


def test_lower_layers_import_nothing_above_them() -> None:
    wrong = []
    for layer, allowed in LAYERS.items():
        for path in sorted(PACKAGE.joinpath(*layer.split(".")[1:]).rglob("*.py")):
            for name in _imports(path):
                if not any(name == ok or name.startswith(ok + ".") for ok in allowed):
                    wrong.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert wrong == []


# Ties made only by imports under ``if TYPE_CHECKING:``. They are no runtime circle
# (the graph test leaves them out), but they tie the modules all the same: none
# may be added, and each one removed is taken off this list.
TYPE_ONLY_TIES: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """Ids of the nodes inside ``if TYPE_CHECKING:`` blocks, anywhere in the file."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return inside


def _imported_names(path: Path, type_only: bool) -> Iterator[str]:
    """Dotted names a file imports, from every import statement anywhere in it.

    Args:
        path: The source file.
        type_only: True for the imports under ``if TYPE_CHECKING:`` only, False for
            every other import (module level, function-local, conditional).

    Yields:
        ``package.module`` for ``import package.module``, and both ``package`` and
        ``package.name`` for ``from package import name`` (``name`` may be a module).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    checking = _type_checking_nodes(tree)
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    for node in ast.walk(tree):
        if (id(node) in checking) != type_only:
            continue
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def _import_graph(type_only: bool = False) -> dict[str, set[str]]:
    """Which voice_agent modules each voice_agent module imports.

    Importing ``a.b.c`` from outside package ``a.b`` runs ``a/b/__init__.py`` first,
    so that is an edge too (the old ``agent.parse -> sessions.describe ->
    sessions/__init__ -> manager -> agent.client`` circle went through one).
    """
    files = {_module_name(path): path for path in _sources()}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = set()
        for name in _imported_names(path, type_only):
            if name.split(".")[0] != "voice_agent":
                continue
            while name not in files:
                name = name.rpartition(".")[0]
            parts = name.split(".")
            for end in range(1, len(parts) + 1):
                target = ".".join(parts[:end])
                if target != module and not module.startswith(target + "."):
                    targets.add(target)
        graph[module] = targets
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def test_the_graph_finds_a_circle_through_a_function_local_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_among_voice_agent_modules() -> None:
    """No circle, counting every import statement in a file, function-local ones too.

    Imports under ``if TYPE_CHECKING:`` never run, so they make no runtime circle;
    they are checked against :data:`TYPE_ONLY_TIES` below.
    """
    graph = _import_graph()
    assert "voice_agent.telegram.app" in graph["voice_agent.cli"]  # a function-local import
    assert _circles(graph) == []


def test_no_new_type_only_tie() -> None:
    """A type-only import that closes a circle is listed in :data:`TYPE_ONLY_TIES`."""
    graph = _import_graph()
    circular = set()
    for module, targets in _import_graph(type_only=True).items():
        for target in targets:
            with_it = {name: set(edges) for name, edges in graph.items()}
            with_it[module].add(target)
            if any(module in group and target in group for group in _circles(with_it)):
                circular.add((module, target))
    assert circular == TYPE_ONLY_TIES
