"""The language model's Python API at its edges (#24): a nucleus smaller than the top token,
arguments of the wrong type refused at the call by name, and the model called as a function."""

import json

import pytest
import torch
from click.testing import CliRunner

from seqtext.cli.main import main
from seqtext.errors import SeqtextError
from seqtext.export.metadata import describe as describe_export
from seqtext.export.runtime import LanguageModel as RuntimeLM
from seqtext.lm import generation
from seqtext.lm.model import LanguageModel, LMConfig, RecurrentLM
from seqtext.text.tokenizers import CharTokenizer


def random_lm(cell: str = "lstm") -> LanguageModel:
    torch.manual_seed(0)
    tokenizer = CharTokenizer(["<pad>", "<unk>", "<bos>", "<eos>", *"abcdefgh :"])
    config = LMConfig(vocab_size=len(tokenizer.itos), embedding_dim=8, hidden_size=16, num_layers=1, cell=cell, dropout=0.0)
    return LanguageModel(RecurrentLM(config), tokenizer)


@pytest.fixture(scope="module")
def lm() -> LanguageModel:
    return random_lm()


# -- item 1: top_p below float32's smallest number keeps the top token ---------------------------
def test_tiny_top_p_keeps_only_the_top_token():
    logits = torch.tensor([[0.5, 3.0, -1.0, 2.9], [1.0, 1.0, 0.0, -2.0]])
    filtered = generation.filter_logits(logits, None, 1e-300)
    assert torch.isfinite(filtered).sum(-1).tolist() == [1, 1]
    assert filtered.argmax(-1).tolist() == logits.argmax(-1).tolist()


@pytest.mark.parametrize("use_kernel", [True, False])
@pytest.mark.parametrize("top_p", [1e-300, 1e-45, 1e-8])
def test_tiny_top_p_samples_the_greedy_text(lm, use_kernel, top_p, monkeypatch):
    """In the step kernel and the plain reference path alike, one stream or several."""
    if not use_kernel:
        monkeypatch.setattr(generation.Stepper, "kernel", lambda self, state, streams: None)
    greedy = lm.generate("ab", max_length=12, temperature=0, seed=1)[0].text
    for sample in lm.generate("ab", max_length=12, top_p=top_p, num_samples=3, seed=1):
        assert sample.text == greedy
    assert "".join(lm.stream("ab", max_length=12, top_p=top_p, seed=1)) == greedy


def test_cli_tiny_top_p_prints_the_greedy_text(lm, tmp_path):
    lm.save(tmp_path / "lm")
    runner = CliRunner()
    result = runner.invoke(main, ["generate", "ab", "-m", str(tmp_path / "lm"), "-p", "1e-300", "-n", "5", "--seed", "1"])
    assert result.exit_code == 0, result.output
    greedy = runner.invoke(main, ["generate", "ab", "-m", str(tmp_path / "lm"), "-t", "0", "-n", "5"])
    assert result.stdout == greedy.stdout and result.stdout.startswith("ab")


# -- item 13: wrong types refused at the call, naming the argument --------------------------------
@pytest.mark.parametrize("text", [None, 5, 1.5, True, b"abc", [1, 2], {"a": 1}, (c for c in "ab")])
def test_generate_refuses_a_text_that_is_not_a_string(lm, text):
    with pytest.raises(TypeError, match=r"^text must be a string") as refused:
        lm.generate(text)
    assert isinstance(refused.value, SeqtextError)  # one line on the command line and the server
    with pytest.raises(TypeError, match=r"^text must be a string"):
        lm.stream(text)  # at the call, not at the first next()


@pytest.mark.parametrize("arguments,error,named", [
    ({"max_length": "5"}, TypeError, "max_length must be a whole number"),
    ({"max_length": 2.0}, TypeError, "max_length must be a whole number"),
    ({"max_length": True}, TypeError, "max_length must be a whole number"),
    ({"stop": 5}, TypeError, "stop must be a string or a list of strings"),
    ({"stop": ["a", None]}, TypeError, "stop must be a string or a list of strings"),
    ({"beam_size": 0}, ValueError, "beam_size must be between 1 and 64"),
    ({"beam_size": 65}, ValueError, "beam_size must be between 1 and 64"),
    ({"beam_size": "2"}, TypeError, "beam_size must be a whole number"),
    ({"num_samples": 0}, ValueError, "num_samples must be at least 1"),
    ({"top_k": 2.5}, TypeError, "top_k must be a whole number or None"),
    ({"top_p": "0.9"}, TypeError, "top_p must be a number or None"),
    ({"temperature": None}, TypeError, "temperature must be a number"),
    ({"seed": True}, TypeError, "seed must be a whole number or None"),
    ({"seed": -1}, ValueError, "seed must be between 0 and"),
    ({"allow_unk": "yes"}, TypeError, "allow_unk must be True or False"),
])
def test_generate_refuses_bad_arguments_by_name(lm, arguments, error, named):
    with pytest.raises(error, match="^" + named.replace("(", r"\(")) as refused:
        lm.generate("ab", max_length=arguments.pop("max_length", 3), **arguments)
    assert isinstance(refused.value, SeqtextError)


def test_one_stop_string_is_not_read_as_its_characters(lm):
    """``stop="ba"`` stops at "ba", not at every "a" or "b"."""
    for sample in lm.generate("", max_length=40, stop="ba", num_samples=4, seed=3):
        assert "ba" not in sample.text
    texts = [s.text for s in lm.generate("", max_length=40, num_samples=4, seed=3)]
    cut = [s.text for s in lm.generate("", max_length=40, stop="ba", num_samples=4, seed=3)]
    assert cut == [text.split("ba")[0] for text in texts]


# -- item 15: the model is callable ------------------------------------------------------------
def test_calling_the_model_generates(lm):
    assert lm("ab", max_length=10, seed=4) == lm.generate("ab", max_length=10, seed=4)
    assert type(lm).__call__ is LanguageModel.generate  # same arguments, same docs


class FakeGraph:
    """The export runtime's view of an exported language model without the file: its metadata."""

    def __init__(self, model):
        self.meta = json.loads(json.dumps(describe_export(model, "onnx")))


@pytest.mark.parametrize("arguments,error,named", [
    ({"seed": None}, TypeError, "seed must be a string"),
    ({"seed": b"ab"}, TypeError, "seed must be a string"),
    ({"seed": "ab", "max_length": "5"}, TypeError, "max_length must be a whole number"),
    ({"seed": "ab", "max_length": -1}, ValueError, "max_length must be at least 0"),
    ({"seed": "ab", "temperature": -1.0}, ValueError, "temperature must be 0"),
])
def test_runtime_generate_checks_its_arguments(lm, arguments, error, named):
    with pytest.raises(error, match="^" + named):
        RuntimeLM(FakeGraph(lm)).generate(**arguments)
