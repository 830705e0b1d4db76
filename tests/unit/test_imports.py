"""Every module imports on its own in a fresh interpreter, and dependencies point one way.

A circle between packages shows only when a module that sits inside it is the
first one imported (``python -c "import voice_agent.agent.client"``), which no
test importing ``voice_agent.sessions`` first would notice.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import voice_agent

PACKAGE = Path(voice_agent.__file__).parent

# What each layer may import from voice_agent (DESIGN: front ends → sessions →
# policy / store / agent / speech).
LAYERS = {
    "voice_agent.agent": ("voice_agent.agent",),
    "voice_agent.speech": ("voice_agent.speech",),
    "voice_agent.policy": ("voice_agent.policy",),
    "voice_agent.store": ("voice_agent.store",),
    "voice_agent.sessions": (
        "voice_agent.sessions",
        "voice_agent.agent",
        "voice_agent.policy",
        "voice_agent.store",
    ),
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
        for path in sorted((PACKAGE / layer.split(".")[1]).rglob("*.py")):
            for name in _imports(path):
                if not any(name == ok or name.startswith(ok + ".") for ok in allowed):
                    wrong.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert wrong == []
