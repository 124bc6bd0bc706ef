"""What users share holds no machine's paths (#24 item 14): a model directory and an export name
the files a model was trained on, never where they lay; run.json keeps the full paths a resumed
run needs."""

import json
import os
import re
from pathlib import Path

import pytest

import seqtext
from seqtext.core.modeldir import shared_info, shared_name
from seqtext.core.registry import SHIPPED_DIR
from seqtext.export.metadata import describe


def paths_in(value) -> list[str]:
    """Every string in a parsed JSON value that is an absolute path ("/" alone is a character)."""
    if isinstance(value, dict):
        return [p for v in value.values() for p in paths_in(v)]
    if isinstance(value, list):
        return [p for v in value for p in paths_in(v)]
    if isinstance(value, str) and len(value) > 1 and (os.path.isabs(value) or value.startswith("~")
                                                      or re.match(r"^[A-Za-z]:[\\/]", value)):
        return [value]
    return []


@pytest.mark.parametrize("directory", sorted(p.parent.name for p in SHIPPED_DIR.glob("*/config.json")))
def test_shipped_configs_name_their_sources_without_paths(directory):
    config = json.loads((SHIPPED_DIR / directory / "config.json").read_text(encoding="utf-8"))
    assert paths_in(config) == []
    info = config["info"]
    for name in info.get("train_files", []) + info.get("train_file", "").split(", "):
        assert name == shared_name(name), name


def test_a_fresh_model_directory_names_its_files_and_run_json_keeps_the_paths(tiny_lm_dir, small_corpus):
    config = json.loads((tiny_lm_dir / "config.json").read_text(encoding="utf-8"))
    assert paths_in(config) == [] and str(small_corpus.parent) not in json.dumps(config)
    assert config["info"]["train_files"] == [small_corpus.name]
    run = json.loads((tiny_lm_dir / "run.json").read_text(encoding="utf-8"))
    assert run["files"]["train"] == [str(small_corpus)]  # resume reads the corpus from there


def test_shared_info_reduces_every_source_to_its_name():
    info = {"train_file": "/data/conll/train.txt, /data/conll/more.txt", "train_files": ["/a/b.txt", "C:\\x\\y.txt"],
            "init_from": "/home/me/models/lm", "pretrained_lms": ["news-forward", "/m/back/"], "parameters": 3,
            "data": {"embeddings": "runs/vectors.txt", "pretrained_lms": None, "label_names": {"0": "a/b"}}}
    assert shared_info(info) == {
        "train_file": "train.txt, more.txt", "train_files": ["b.txt", "y.txt"], "init_from": "lm",
        "pretrained_lms": ["news-forward", "back"], "parameters": 3,
        "data": {"embeddings": "vectors.txt", "pretrained_lms": None, "label_names": {"0": "a/b"}},
    }


def test_export_metadata_holds_no_paths_of_a_model_saved_before(tiny_lm_dir):
    lm = seqtext.load(tiny_lm_dir, device="cpu")
    lm.info = {**lm.info, "train_files": ["/home/someone/corpus.txt"], "init_from": "/home/someone/base"}
    meta = describe(lm, "onnx")
    assert paths_in(meta) == [] and meta["info"]["train_files"] == ["corpus.txt"]


def test_export_metadata_names_a_taggers_language_models():
    tagger = seqtext.load("ner", device="cpu")
    for entry in tagger.network.config.contextual_lms:
        entry["source"] = str(Path("/home/someone/models") / entry["source"])
    meta = describe(tagger, "onnx")
    assert paths_in(meta) == []
    assert [lm["source"] for lm in meta["model"]["contextual_lms"]] == ["news-forward", "news-backward"]
