"""The package layout is the architecture: lower layers never import higher ones, the two kinds
built on language models never import each other, no import cycle, and an import inside a function
only where it defers an optional extra or a library that a rare path alone needs (with a comment)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top; a module may import its own package and anything on a lower layer.
LAYERS = [
    {"errors", "checks", "configs", "results"},
    {"core"},
    {"text"},
    {"lm"},
    {"tagger", "classifier"},
    {"api"},
    {"export", "server"},
    {"cli"},
]
ROOT_ORDER = ["errors", "checks", "configs", "results"]  # the root modules among themselves

# What a library module may import inside a function: optional extras, and the libraries that
# only a rare path needs and that would slow every start (see the comment at each import).
DEFERRED = {"fastapi", "uvicorn", "starlette", "onnx", "onnxruntime", "onnxscript", "matplotlib", "tensorboard",
            "torch.utils.tensorboard", "datasets", "sklearn", "scipy", "seqeval", "torch.distributed",
            "seqtext.server.app", "seqtext.server.served"}  # the server's modules: fastapi, and torch through seqtext.api
API_NAMES = {"load", "list_models", "evaluate_files"}  # what seqtext/__init__.py hands on from api
STANDALONE = {"seqtext/export/runtime.py"}  # copied next to exports; imports its backend when asked


def library_files() -> list[Path]:
    return sorted((ROOT / "seqtext").rglob("*.py")) + sorted((ROOT / "cli").rglob("*.py"))


def unit_of(module: str) -> str | None:
    """The part of seqtext a dotted module name belongs to (``seqtext.lm.model`` -> ``lm``)."""
    parts = module.split(".")
    if parts[0] != "seqtext" or len(parts) < 2:
        return None
    return "api" if parts[1] in API_NAMES else parts[1]


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[0] == "cli":
        parts = ["seqtext", *parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path):
    """(module imported, inside a function?, line) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside.update(id(n) for n in ast.walk(node) if n is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in inside, node.lineno
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"{path}:{node.lineno}: a relative import (write seqtext's modules in full)"
            for alias in node.names:  # `from seqtext.lm import model` imports the module seqtext.lm.model
                name = f"{node.module}.{alias.name}"
                yield (name if name in MODULES or node.module == "seqtext" else node.module), id(node) in inside, node.lineno


MODULES = {module_name(p) for p in library_files()}


def layer(unit: str) -> int:
    return next(i for i, units in enumerate(LAYERS) if unit in units)


def test_every_part_of_seqtext_has_a_layer():
    units = {p.name for p in (ROOT / "seqtext").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    units |= {p.stem for p in (ROOT / "seqtext").glob("*.py") if p.stem != "__init__"}
    units.add("cli")
    assert units == set().union(*LAYERS)


def test_no_import_reaches_up_or_sideways():
    wrong = []
    for path in library_files():
        here = unit_of(module_name(path))
        if here is None:  # seqtext/__init__.py: the package's face, lazily handing on api's names
            continue
        for name, _, line in imports(path):
            there = unit_of(name)
            if there is None or there == here or there == "__version__":  # the version lives in seqtext/__init__.py
                continue
            if there in ROOT_ORDER and here in ROOT_ORDER:
                ok = ROOT_ORDER.index(there) < ROOT_ORDER.index(here)
            else:
                ok = layer(there) < layer(here)
            if not ok:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    modules = {module_name(p): p for p in library_files()}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported, _, _ in imports(path):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and imported != "seqtext":
                targets.add(imported)
        graph[name] = targets
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])


def test_imports_inside_functions_only_defer_extras():
    wrong = []
    for path in sorted((ROOT / "seqtext").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        if relative in STANDALONE or path.name == "__init__.py" and path.parent.name == "seqtext":
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for name, inside, line in imports(path):
            if not inside:
                continue
            allowed = any(name == d or name.startswith(d + ".") for d in DEFERRED)
            above = line - 2
            while above > 0 and lines[above].strip().startswith(("import ", "from ", "try:")):  # one comment serves a block
                above -= 1
            commented = "#" in lines[line - 1] or lines[above].strip().startswith("#")
            if not (allowed and commented):
                wrong.append(f"{relative}:{line} imports {name} inside a function")
    assert not wrong, "\n".join(wrong)


def test_the_readme_layout_names_every_package():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout"):]
    for unit in sorted(set().union(*LAYERS)):
        assert f"{unit}/" in layout or f"{unit}.py" in layout, unit


def test_functions_fit_on_a_screen():
    longest = 60
    long = []
    for path in library_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > longest:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, "\n".join(long)
