"""The documentation says what the code does: docs/cli.md is the commands' own `--help`, the
README stays short and names every package, and every link between the documents leads
somewhere."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from seqtext.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def load_generator():
    """docs/make_cli_reference.py, imported from its file (docs/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_cli_reference", DOCS / "make_cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_up_to_date():
    generated = load_generator().render()
    written = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert written == generated, "docs/cli.md differs from the commands' --help: run `python docs/make_cli_reference.py`"


def test_cli_reference_is_what_help_prints():
    generator = load_generator()
    runner = CliRunner()
    for path, text in generator.command_helps(generator.seqtext_group, "seqtext"):
        args = path.split()[1:] + ["--help"]
        result = runner.invoke(main, args, prog_name="seqtext", terminal_width=generator.TERMINAL_WIDTH)
        assert result.exit_code == 0, (path, result.output)
        assert result.output.rstrip() == text.rstrip(), path


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines: move detail to docs/"


def test_readme_layout_names_every_package_and_root_module():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout"):]
    packages = {p.parent.name for p in (ROOT / "seqtext").glob("*/__init__.py")}
    modules = {p.name for p in (ROOT / "seqtext").glob("*.py") if p.name != "__init__.py"}
    missing = sorted(f"{name}/" for name in packages if f"{name}/" not in layout)
    missing += sorted(name for name in modules if name not in layout)
    missing += [name for name in ("cli/", "corpora/", "tests/", "benchmarks/", "docs/") if name not in layout]
    assert not missing, f"README.md's layout leaves out {missing}"


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_somewhere(page: Path):
    text = page.read_text(encoding="utf-8")
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file, _, fragment = target.partition("#")
        destination = (page.parent / file).resolve() if file else page
        if not destination.exists():
            broken.append(target)
            continue
        if fragment and destination.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", destination.read_text(encoding="utf-8"), flags=re.M)
            if fragment not in {anchor(h) for h in headings}:
                broken.append(target)
    assert not broken, f"{page.name}: links that lead nowhere: {broken}"


def test_python_in_the_docs_names_modules_that_exist():
    """`from seqtext.x import y` and `import seqtext.x` in a code block name a real module."""
    wrong = []
    for page in markdown_files():
        for block in re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S):
            for module in re.findall(r"^\s*(?:from|import) (seqtext[\w.]*)", block, flags=re.M):
                if importlib.util.find_spec(module) is None:
                    wrong.append(f"{page.name}: {module}")
    assert not wrong, wrong


def test_options_named_in_the_prose_exist():
    """Every `--option` the README and the command pages name is one some command has."""
    known = set(re.findall(r"--[a-z][a-z0-9-]*", (DOCS / "cli.md").read_text(encoding="utf-8")))
    others = {"--logdir", "--data-dir"}  # tensorboard's, and the benchmark scripts'
    unknown = []
    for name in ("README.md", "docs/commands.md", "docs/python-api.md", "docs/model-directory.md"):
        named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", (ROOT / name).read_text(encoding="utf-8")))
        unknown += [f"{name}: {flag}" for flag in sorted(named - known - others)]
    assert not unknown, unknown
