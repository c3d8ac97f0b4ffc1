"""Import layers, read from the source (every import statement, function-level ones included).

- ``budgetsweep/train/`` imports no Hydra and no Optuna; ``budgetsweep/analysis/`` no torch;
  ``budgetsweep/reductions/`` nothing from ``budgetsweep.train`` (the loop calls reductions'
  runtimes, never the other way round);
- no import cycle among budgetsweep's modules, counting imports inside functions (a cycle hidden
  in a function-level import is still a cycle: the teacher that called ``train()`` back was one).
A package's ``__init__`` that is only passed through (``from budgetsweep.reductions import X``
resolved by PEP 562) counts as an edge to the package, not to the module it loads lazily.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import budgetsweep

ROOT = Path(budgetsweep.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py")) if "conf" not in p.relative_to(ROOT).parts}


def imports(name: str) -> set[str]:
    """Absolute names a module imports anywhere in its body; ``from a import b`` gives ``a.b`` where
    that is a module, else ``a``."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base)
    return found


def own(names: set[str]) -> set[str]:
    return {n for n in names if n in MODULES}


def in_package(package: str) -> list[str]:
    return [m for m in MODULES if m == package or m.startswith(package + ".")]


@pytest.mark.parametrize("package, banned", [
    ("budgetsweep.train", ("hydra", "optuna", "omegaconf")),
    ("budgetsweep.analysis", ("torch",)),
    ("budgetsweep.reductions", ("budgetsweep.train",)),
])
def test_package_imports_nothing_banned(package, banned):
    bad = {m: sorted(n for n in imports(m) if any(n == b or n.startswith(b + ".") for b in banned))
           for m in in_package(package)}
    assert not {m: n for m, n in bad.items() if n}


def test_no_import_cycles_counting_function_level_imports():
    graph = {m: own(imports(m)) - {m} for m in MODULES}
    cycles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_layer_check_sees_function_level_imports():
    # the checks must be able to fail: an import inside a function body is found
    assert "hydra.utils" in imports("budgetsweep.reductions.support")  # imported inside _task()
    assert "budgetsweep._version" in imports("budgetsweep.run_context")  # imported inside versions()


@pytest.mark.parametrize("modules", [
    # auto-proxy's policy runs wherever analysis runs (its planner adapter, ``costs``, imports the planner lazily)
    ["budgetsweep.auto_proxy." + m for m in ("settings", "phases", "choose", "verify", "summary", "costs")],
    # the hypothesis statistics and records
    ["budgetsweep.hypothesis." + m for m in ("stats", "sequential", "verdict", "spec", "registration")],
], ids=["auto_proxy", "hypothesis"])
def test_policy_modules_import_no_torch(modules):
    import subprocess
    import sys

    code = f"import sys; import {', '.join(modules)}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
