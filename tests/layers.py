"""The project's import graph, read from the source (module-level and function-level imports alike),
and the layers it must respect. Used by tests/test_layers.py."""

import ast
from pathlib import Path

PACKAGES = ("search_spaces", "trainables", "sweeps")
# Lowest first: a module may import its own layer and the layers below, never one above.
LAYERS = [
    ("search_spaces",),
    ("trainables",),
    ("sweeps.sweep",),
    ("sweeps.results",),
    ("sweeps.ensembles",),
    ("sweeps.pipeline",),
    ("sweeps",),  # the commands users type: cnn_search.py, predict.py, ...
]


def modules(root):
    """{module name: file} for every module of the project's packages under ``root``."""
    found = {}
    for package in PACKAGES:
        for path in sorted((Path(root) / package).rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _resolve(name, known):
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root):
    """{module: set of project modules it imports}."""
    known = modules(root)
    graph = {name: set() for name in known}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                resolved = _resolve(target, known)
                if resolved and resolved != name:
                    graph[name].add(resolved)
    return graph


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer_of(module):
    """The index in LAYERS of the most specific prefix that holds ``module``."""
    best = None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > len(LAYERS[best][0]):
                    best = i
    return best


def upward_imports(graph):
    """(importer, imported) pairs where a lower layer imports a higher one."""
    return sorted((a, b) for a, targets in graph.items() for b in targets if layer_of(a) < layer_of(b))
