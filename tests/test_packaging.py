"""The package list in setup.cfg is explicit: a sub-package missing from it works in an
editable install and is absent from the wheel. These tests catch that and oversized models."""

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_setup_cfg_lists_every_package():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = {p.strip() for p in config["options"]["packages"].replace(",", " ").split()}
    found = {"seqtext"} | {
        "seqtext." + str(p.parent.relative_to(ROOT / "seqtext")).replace("/", ".")
        for p in (ROOT / "seqtext").rglob("__init__.py")
        if p.parent != ROOT / "seqtext"
    }
    assert listed == found | {"seqtext.cli"}
    assert (ROOT / "cli" / "__init__.py").is_file()


def test_shipped_models_are_small_and_complete():
    for directory in (ROOT / "seqtext" / "pretrained").iterdir():
        if not directory.is_dir():
            continue
        names = {p.name for p in directory.iterdir()}
        assert {"config.json", "model.safetensors", "metrics.json"} <= names, directory
        assert sum(p.stat().st_size for p in directory.iterdir()) < 16 * 2**20, directory


def test_cli_is_not_a_top_level_module():
    import seqtext.cli.main as cli_main

    assert cli_main.__name__ == "seqtext.cli.main"
