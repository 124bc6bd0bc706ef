"""The package list in setup.cfg is explicit: a sub-package missing from it works in an
editable install and is absent from the wheel. These tests build the wheel and look inside it,
and catch oversized models."""

import configparser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_setup_cfg_lists_every_package():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = {p.strip() for p in config["options"]["packages"].replace(",", " ").split()}
    # Every folder with an __init__.py, under seqtext/ and under cli/ (installed as seqtext.cli).
    found = {
        ".".join(("seqtext",) + p.parent.relative_to(ROOT / "seqtext").parts)
        for p in (ROOT / "seqtext").rglob("__init__.py")
    } | {
        ".".join(("seqtext", "cli") + p.parent.relative_to(ROOT / "cli").parts)
        for p in (ROOT / "cli").rglob("__init__.py")
    }
    assert "seqtext" in found and "seqtext.cli" in found
    assert listed == found
    assert config["options"]["package_dir"].split() == ["seqtext.cli", "=", "cli"]


def test_shipped_models_are_small_and_complete():
    for directory in (ROOT / "seqtext" / "pretrained").iterdir():
        if not directory.is_dir():
            continue
        names = {p.name for p in directory.iterdir()}
        assert {"config.json", "model.safetensors", "metrics.json"} <= names, directory
        assert sum(p.stat().st_size for p in directory.iterdir()) < 16 * 2**20, directory


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel that ``pip wheel`` builds, from a copy of the sources (so that the build's own
    files never land in the checkout). About 5 s."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "setup.cfg", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("seqtext", "cli"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        cwd=source, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (built,) = out.glob("seqtext-*.whl")
    return built


@pytest.mark.slow
def test_wheel_holds_every_package_the_cli_and_the_models(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        assert archive.read(info).decode().split() == ["seqtext"]
        entry_points = archive.read(info.replace("top_level.txt", "entry_points.txt")).decode()
    assert "seqtext = seqtext.cli.main:main" in entry_points
    expected = {"seqtext/" + p.relative_to(ROOT / "seqtext").as_posix() for p in (ROOT / "seqtext").rglob("*.py")}
    expected |= {"seqtext/cli/" + p.relative_to(ROOT / "cli").as_posix() for p in (ROOT / "cli").rglob("*.py")}
    expected |= {"seqtext/" + p.relative_to(ROOT / "seqtext").as_posix()
                 for p in (ROOT / "seqtext" / "pretrained").glob("*/*") if p.is_file()}
    assert {"seqtext/__init__.py", "seqtext/cli/__init__.py", "seqtext/cli/main.py",
            "seqtext/pretrained/ner/model.safetensors"} <= expected
    assert expected - names == set()
    dist_info = {n.split("/")[0] for n in names if ".dist-info/" in n}
    assert len(dist_info) == 1
    assert {n.split("/")[0] for n in names} == {"seqtext"} | dist_info  # no top-level cli/, nothing else
    assert wheel.stat().st_size < 100 * 10**6  # the whole wheel, shipped models included, under 100 MB


def test_cli_runs_from_the_wheel_alone(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "site")
    code = ("import importlib.util, seqtext, seqtext.cli.main as m; "
            "print(seqtext.__file__); print(m.__file__); print(importlib.util.find_spec('cli')); "
            "print(seqtext.load('sentiment').kind)")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    package, cli_main, top_level_cli, kind = result.stdout.split()
    assert package == str(tmp_path / "site" / "seqtext" / "__init__.py")
    assert cli_main == str(tmp_path / "site" / "seqtext" / "cli" / "main.py")
    assert top_level_cli == "None" and kind == "classifier"
