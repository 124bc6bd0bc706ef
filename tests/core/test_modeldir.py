"""Model directories are user input: every way a user can break one is refused with a one-line
ModelError that names the file, and names resolve to shipped models before folders."""

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import seqtext
from seqtext.api import list_models
from seqtext.classifier.model import (
    ClassifierConfig,
    RecurrentClassifier,
    TextClassifier,
)
from seqtext.cli.main import main
from seqtext.core.modeldir import (
    FORMAT_VERSION,
    read_config,
    temporary_path,
    write_json,
)
from seqtext.core.registry import SHIPPED_DIR, resolve
from seqtext.errors import ModelError
from seqtext.lm.model import LanguageModel, LMConfig, RecurrentLM
from seqtext.tagger.model import BiRNNTagger, SequenceTagger, TaggerConfig
from seqtext.text.tokenizers import CharTokenizer, WordTokenizer

TEXT = "ROMEO: But soft, what light through yonder window breaks?"


@pytest.fixture
def lm_dir(tmp_path) -> Path:
    """A small character LM written by the real save code (untrained: loading is under test)."""
    tokenizer = CharTokenizer.train([TEXT])
    network = RecurrentLM(LMConfig(vocab_size=tokenizer.vocab_size, embedding_dim=8, hidden_size=16, num_layers=1, dropout=0.1))
    return LanguageModel(network, tokenizer).save(tmp_path / "lm")


@pytest.fixture
def classifier_dir(tmp_path) -> Path:
    tokenizer = WordTokenizer.train([TEXT])
    config = ClassifierConfig(vocab_size=tokenizer.vocab_size, num_classes=2, embedding_dim=8, hidden_size=8, mlp_hidden=8)
    return TextClassifier(RecurrentClassifier(config), tokenizer, ["negative", "positive"]).save(tmp_path / "classifier")


@pytest.fixture
def tagger_dir(tmp_path) -> Path:
    words, chars = WordTokenizer.train([TEXT]), CharTokenizer.train([TEXT])
    config = TaggerConfig(vocab_size=words.vocab_size, num_tags=3, char_vocab_size=chars.vocab_size,
                          word_dim=8, char_dim=4, char_hidden=4, hidden_size=8)
    return SequenceTagger(BiRNNTagger(config), words, chars, ["B-X", "I-X", "O"], "bio", "bio").save(tmp_path / "tagger")


def edit_config(directory: Path, change) -> None:
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    change(config)
    (directory / "config.json").write_text(json.dumps(config), encoding="utf-8")


def refused(directory, match: str, file: str = "config.json") -> str:
    """Loading fails with a one-line ModelError naming ``file`` and matching ``match``."""
    with pytest.raises(ModelError, match=match) as caught:
        seqtext.load(directory)
    message = str(caught.value)
    assert "\n" not in message and file in message, message
    return message


# -- config.json -------------------------------------------------------------------------------
def test_saved_config_carries_the_format_version(lm_dir):
    assert read_config(lm_dir)["format_version"] == FORMAT_VERSION == 1


def test_config_without_format_version_loads_as_version_1(lm_dir):
    edit_config(lm_dir, lambda c: c.pop("format_version"))
    assert isinstance(seqtext.load(lm_dir), LanguageModel)


def test_newer_format_version_is_refused(lm_dir):
    edit_config(lm_dir, lambda c: c.update(format_version=FORMAT_VERSION + 1))
    refused(lm_dir, "made by a newer seqtext")


def test_config_that_is_not_json(lm_dir):
    (lm_dir / "config.json").write_text('{"kind": "language_model",', encoding="utf-8")
    refused(lm_dir, "not valid JSON")


def test_config_that_is_not_utf8(lm_dir):
    (lm_dir / "config.json").write_bytes(b'{"kind": "\xff"}')
    refused(lm_dir, "not valid JSON")


def test_config_that_is_not_an_object(lm_dir):
    (lm_dir / "config.json").write_text("[1, 2]", encoding="utf-8")
    refused(lm_dir, "expected a JSON object, found a list")


def test_directory_without_config(lm_dir):
    (lm_dir / "config.json").unlink()
    refused(lm_dir, "not a model directory", file=str(lm_dir))


@pytest.mark.parametrize(
    "fixture, key",
    [("lm_dir", "kind"), ("lm_dir", "model"), ("lm_dir", "tokenizer"),
     ("classifier_dir", "labels"), ("tagger_dir", "tags"), ("tagger_dir", "chars")],
)
def test_config_missing_a_key(request, fixture, key):
    directory = request.getfixturevalue(fixture)
    edit_config(directory, lambda c: c.pop(key))
    refused(directory, f"missing key '{key}'")


def test_config_missing_a_required_model_setting(lm_dir):
    edit_config(lm_dir, lambda c: c["model"].pop("vocab_size"))
    refused(lm_dir, "missing key 'model.vocab_size'")


def test_unknown_key_in_model_section(lm_dir):
    edit_config(lm_dir, lambda c: c["model"].update(colour="blue"))
    refused(lm_dir, "unknown key 'model.colour'")


@pytest.mark.parametrize(
    "section, key, value, match",
    [
        ("model", "hidden_size", "16", "model.hidden_size must be an integer"),
        ("model", "num_layers", True, "model.num_layers must be an integer"),
        ("model", "dropout", "none", "model.dropout must be a number"),
        ("model", "tie_weights", 1, "model.tie_weights must be true or false"),
        ("model", "cell", 3, "model.cell must be a string"),
        ("model", "cell", "transformer", "unknown model.cell 'transformer'"),
        ("model", "hidden_size", -4, r"-4\b"),
        ("model", "dropout", 1.5, r"1\.5"),
        (None, "model", [16, 8], "model must be a JSON object"),
        (None, "tokenizer", "char", "tokenizer must be a JSON object"),
        (None, "info", [], "info must be a JSON object"),
        (None, "weights_dtype", "int4", "weights_dtype must be one of"),
        (None, "format_version", "1", "format_version must be a positive integer"),
        ("tokenizer", "kind", "bpe", "unknown tokenizer kind 'bpe'"),
        ("tokenizer", "file", 7, "tokenizer.file must be a file name"),
    ],
)
def test_config_value_of_the_wrong_type(lm_dir, section, key, value, match):
    edit_config(lm_dir, lambda c: (c[section] if section else c).update({key: value}))
    refused(lm_dir, match)


def test_unknown_kind(lm_dir):
    edit_config(lm_dir, lambda c: c.update(kind="transformer"))
    refused(lm_dir, "unknown model kind 'transformer'")


def test_wrong_kind_for_the_class(classifier_dir):
    with pytest.raises(ModelError, match="kind is 'classifier', expected 'language_model'"):
        LanguageModel.from_directory(classifier_dir, read_config(classifier_dir))


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("labels", "positive", "labels must be a list of strings"),
        ("labels", ["negative", "positive", "neutral"], "model.num_classes is 2 but labels has 3 entries"),
        ("labels", ["good", "good"], "labels lists 'good' twice"),
        ("max_tokens", 0, "max_tokens must be a positive integer"),
        ("label_aliases", {"1": "great"}, "label_aliases maps to 'great'"),
    ],
)
def test_classifier_config_entries(classifier_dir, key, value, match):
    edit_config(classifier_dir, lambda c: c.update({key: value}))
    refused(classifier_dir, match)


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("tags", [], "tags is empty"),
        ("tags", ["B-X", "O"], "model.num_tags is 3 but tags has 2 entries"),
        ("chars", ["a", "b"], "chars: not a seqtext vocabulary"),
        ("scheme", "bilou", "scheme must be one of"),
    ],
)
def test_tagger_config_entries(tagger_dir, key, value, match):
    edit_config(tagger_dir, lambda c: c.update({key: value}))
    refused(tagger_dir, match)


def test_broken_metrics_file(lm_dir):
    (lm_dir / "metrics.json").write_text("{loss: 1}", encoding="utf-8")
    refused(lm_dir, "not valid JSON", file="metrics.json")


# -- weights -----------------------------------------------------------------------------------
def test_weights_of_the_wrong_shape(lm_dir, tmp_path):
    bigger = LanguageModel(RecurrentLM(LMConfig(vocab_size=seqtext.load(lm_dir).tokenizer.vocab_size,
                                                embedding_dim=8, hidden_size=32, num_layers=1, dropout=0.1)), CharTokenizer.train([TEXT]))
    bigger.save(tmp_path / "bigger")
    shutil.copy(tmp_path / "bigger" / "model.safetensors", lm_dir / "model.safetensors")
    refused(lm_dir, r"tensor '\S+' has shape \(\d+, \d+\) but config.json needs", file="model.safetensors")


def test_weights_missing_a_tensor(lm_dir):
    edit_config(lm_dir, lambda c: c["model"].update(num_layers=2))
    refused(lm_dir, "missing: rnn.bias_hh_l1", file="model.safetensors")


def test_truncated_weights(lm_dir):
    path = lm_dir / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    refused(lm_dir, "not a complete safetensors file", file="model.safetensors")


def test_missing_weights(lm_dir):
    (lm_dir / "model.safetensors").unlink()
    refused(lm_dir, "weights file is missing", file="model.safetensors")


# -- tokenizer files ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content, match",
    [
        ('["<pad>", "<unk>",', "not valid JSON"),
        ('{"a": 1}', "not a vocabulary"),
        ('["<pad>", "<unk>", "<bos>", "<eos>", 5]', "not a vocabulary"),
        ('["a", "b", "c", "d", "e"]', "not a seqtext vocabulary"),
        ('["<pad>", "<unk>", "<bos>", "<eos>", "a", "a"]', "lists the token 'a' twice"),
    ],
)
def test_tokenizer_file_that_is_not_a_vocabulary(lm_dir, content, match):
    (lm_dir / "vocab.json").write_text(content, encoding="utf-8")
    refused(lm_dir, match, file="vocab.json")


def test_tokenizer_vocabulary_that_does_not_fit_the_network(lm_dir):
    tokens = json.loads((lm_dir / "vocab.json").read_text(encoding="utf-8"))
    (lm_dir / "vocab.json").write_text(json.dumps(tokens + ["Z"]), encoding="utf-8")
    refused(lm_dir, r"tokenizer has \d+ tokens but config.json says model.vocab_size is", file=str(lm_dir))


def test_missing_tokenizer_file(lm_dir):
    (lm_dir / "vocab.json").unlink()
    refused(lm_dir, "tokenizer file is missing", file="vocab.json")


def test_sentencepiece_file_that_is_not_a_model(lm_dir):
    (lm_dir / "sentencepiece.model").write_bytes(b"not a protobuf")
    edit_config(lm_dir, lambda c: c.update(tokenizer={"kind": "sentencepiece", "file": "sentencepiece.model"}))
    refused(lm_dir, "not a SentencePiece model", file="sentencepiece.model")


@pytest.mark.parametrize("name", ["../vocab.json", "/etc/passwd", "sub/../../vocab.json"])
def test_tokenizer_file_outside_the_directory_is_refused(lm_dir, name):
    shutil.copy(lm_dir / "vocab.json", lm_dir.parent / "vocab.json")  # a valid vocabulary out there
    edit_config(lm_dir, lambda c: c["tokenizer"].update(file=name))
    refused(lm_dir, "outside the model directory")


def test_tokenizer_symlink_leading_outside_is_refused(lm_dir, tmp_path):
    outside = tmp_path / "elsewhere.json"
    shutil.move(lm_dir / "vocab.json", outside)  # valid content: only where it lies is wrong
    (lm_dir / "vocab.json").symlink_to(outside)
    refused(lm_dir, "outside the model directory")


def test_tokenizer_symlink_inside_the_directory_is_fine(lm_dir):
    (lm_dir / "vocab.json").rename(lm_dir / "real-vocab.json")
    (lm_dir / "vocab.json").symlink_to("real-vocab.json")
    assert isinstance(seqtext.load(lm_dir), LanguageModel)


# -- loading never unpickles -------------------------------------------------------------------
@pytest.mark.parametrize("fixture", ["lm_dir", "classifier_dir", "tagger_dir"])
def test_loading_never_unpickles(request, fixture, monkeypatch):
    directory = request.getfixturevalue(fixture)

    def refuse(*args, **kwargs):
        raise AssertionError("loading a model must not unpickle anything")

    for module, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(module, name, refuse)
    model = seqtext.load(directory)
    assert model.kind == read_config(directory)["kind"]


# -- writing -----------------------------------------------------------------------------------
def test_temporary_files_are_per_process_and_cleaned_up(tmp_path):
    assert str(os.getpid()) in temporary_path(tmp_path / "config.json").name
    write_json(tmp_path / "config.json", {"a": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_save_load_round_trip_for_every_kind(lm_dir, classifier_dir, tagger_dir):
    assert isinstance(seqtext.load(lm_dir), LanguageModel)
    classifier = seqtext.load(classifier_dir)
    assert isinstance(classifier, TextClassifier) and classifier.labels == ["negative", "positive"]
    tagger = seqtext.load(tagger_dir)
    assert isinstance(tagger, SequenceTagger) and tagger.tags == ["B-X", "I-X", "O"] and tagger.scheme == "bio"


# -- names -------------------------------------------------------------------------------------
def test_folder_in_cwd_never_shadows_a_shipped_model(lm_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(lm_dir, tmp_path / "ner")
    assert isinstance(seqtext.load("ner"), SequenceTagger)
    assert resolve("ner") == SHIPPED_DIR / "ner"
    assert isinstance(seqtext.load("./ner"), LanguageModel)


def test_bare_name_falls_back_to_a_folder_only_when_no_model_has_it(lm_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQTEXT_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    shutil.copytree(lm_dir, tmp_path / "mine")
    assert isinstance(seqtext.load("mine"), LanguageModel)
    with pytest.raises(ModelError, match="no model named 'nothing'"):
        seqtext.load("nothing")


def test_path_that_does_not_exist_is_only_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match="no such model directory"):
        seqtext.load("./shakespeare")


def test_user_model_found_by_name(lm_dir, tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(lm_dir, home / "models" / "mine")
    monkeypatch.setenv("SEQTEXT_HOME", str(home))
    assert resolve("mine") == home / "models" / "mine"


def test_broken_user_model_is_listed_as_broken(lm_dir, tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(lm_dir, home / "models" / "good")
    (home / "models" / "bad").mkdir()
    (home / "models" / "bad" / "config.json").write_text("{not json", encoding="utf-8")
    monkeypatch.setenv("SEQTEXT_HOME", str(home))
    entries = {e["name"]: e for e in list_models() if e["source"] == "user"}
    assert "not valid JSON" in entries["bad"]["broken"] and "broken" not in entries["good"]
    assert entries["good"]["kind"] == "language_model"

    runner = CliRunner()
    result = runner.invoke(main, ["models"])
    assert result.exit_code == 0, result.output
    bad_line = next(line for line in result.stdout.splitlines() if line.startswith("bad "))
    assert "broken: " in bad_line and "not valid JSON" in bad_line
    assert any(line.startswith("shakespeare ") for line in result.stdout.splitlines())
    result = runner.invoke(main, ["models", "--json"])
    assert result.exit_code == 0
    assert "broken" in next(json.loads(line) for line in result.stdout.splitlines() if json.loads(line)["name"] == "bad")
