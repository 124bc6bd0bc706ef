"""`seqtext inspect` with the shipped shakespeare model: the recorded cells are the network's
own, the text features are what they say, the correlation is Pearson's, a quote-reacting cell
is found on a quote-heavy probe, and bad input gives one-line errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import seqtext
from seqtext.cli.inspect import inspect
from seqtext.cli.main import main
from seqtext.errors import SeqtextError
from seqtext.lm.cells import (
    FEATURES,
    cell_activations,
    correlations,
    interpretable_cells,
    text_features,
)
from seqtext.lm.model import LanguageModel, LMConfig, RecurrentLM
from seqtext.text.tokenizers import BOS, SPECIALS, CharTokenizer

WORDS = "the king my lord good sweet night day come go away speak thee thou love death heaven fair noble sir madam and of to with".split()


@pytest.fixture(scope="module")
def shakespeare():
    return seqtext.load("shakespeare", device="cpu")


def quote_probe(seed: int, lines: int = 60) -> str:
    """Lines of Shakespearean words where about a quarter of the items are 'quoted spans' of
    one to six words, at random places: quotation is not tied to any column or word."""
    rnd = random.Random(seed)
    out = []
    for _ in range(lines):
        items = []
        for _ in range(rnd.randint(6, 14)):
            if rnd.random() < 0.25:
                items.append("'" + " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 6))) + "'")
            else:
                items.append(rnd.choice(WORDS))
        out.append(" ".join(items).capitalize() + ".")
    return "\n".join(out) + "\n"


def test_recorded_states_are_the_networks_own(shakespeare):
    text = "ROMEO:\nBut soft, what light through yonder window breaks?\n"
    cells = cell_activations(shakespeare, text)
    hidden = cell_activations(shakespeare, text, state="hidden")
    assert cells.values.shape == (len(text), 2, 512) and cells.state == "cell" and hidden.state == "hidden"
    ids = torch.tensor([[BOS] + shakespeare.tokenizer.encode(text)])
    with torch.inference_mode():
        out, (_, c) = shakespeare.network.rnn(shakespeare.network.embedding(ids))
    assert np.abs(hidden.values[:, 1] - out[0, 1:].numpy()).max() < 1e-4  # last layer's h after each character
    assert np.abs(cells.values[-1] - torch.tanh(c[:, 0]).numpy()).max() < 1e-4  # tanh(c) of both layers at the end


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_gru_and_rnn_record_their_hidden_state(cell):
    torch.manual_seed(0)
    tokenizer = CharTokenizer(list(SPECIALS) + list("abc \n"))
    network = RecurrentLM(LMConfig(tokenizer.vocab_size, embedding_dim=8, hidden_size=16, num_layers=2, cell=cell, dropout=0.0))
    text = "abc cab\nbca ab"
    recorded = cell_activations(LanguageModel(network, tokenizer), text)  # "cell" means h where there is no c
    assert recorded.state == "hidden" and recorded.values.shape == (len(text), 2, 16)
    with torch.inference_mode():
        out, final = network.rnn(network.embedding(torch.tensor([[BOS] + tokenizer.encode(text)])))
    assert np.abs(recorded.values[:, 1] - out[0, 1:].numpy()).max() < 1e-5
    assert np.abs(recorded.values[-1] - final[:, 0].numpy()).max() < 1e-5


def test_text_features():
    text = "He said 'go (now)' and 'tis so.\nDon't!\n"
    f = text_features(text)
    assert set(f) == set(FEATURES)
    inside = "".join(text[i] for i in np.nonzero(f["quote"])[0])
    assert inside == "'go (now)"  # the opening quote turns it on, the closing one off; 'tis and Don't are apostrophes
    assert f["brackets"][text.index("(")] == 1 and f["brackets"][text.index(")")] == 0
    assert f["column"][text.index("D")] == 0 and f["column"][text.index("e")] == 1
    assert [text[i] for i in np.nonzero(f["line_start"])[0]] == ["H", "D"]
    assert [text[i] for i in np.nonzero(f["sentence_end"])[0]] == [".", "!"]
    assert f["vowel"][text.index("e")] == 1 and f["vowel"][0] == 0 and np.isnan(f["vowel"][2])
    assert text_features('a "b \'c\' d" e')["quote"].tolist() == [0, 0, 1, 1, 1, 2, 2, 1, 1, 1, 0, 0, 0]


def test_correlations_are_pearson():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(200, 5))
    values[:, 4] = 0.5  # a cell that never changes
    feature = values[:, 0] * 2 + rng.normal(size=200)
    feature[::7] = np.nan
    r = correlations(values, feature)
    keep = ~np.isnan(feature)
    for j in range(4):
        assert r[j] == pytest.approx(np.corrcoef(values[keep, j], feature[keep])[0, 1], abs=1e-12)
    assert r[4] == 0 and r[0] > 0.8
    assert correlations(values, np.ones(200)) is None


@pytest.mark.slow
def test_finds_a_quote_cell_on_a_quote_heavy_probe(shakespeare):
    """Measured on seeds 0, 1, 2 of this probe: the best cell is layer 2 cell 416 each time, r =
    -0.34, -0.29, -0.32 against chance 0.08-0.11; with the quote marks blanked out of the same
    text (same feature) that cell's r falls to -0.07, -0.05, -0.03. Tiny Shakespeare has almost
    no quotations: this cell reacts to a quote mark and recovers over a few characters, it does
    not hold the quote open to its end as the paper's Linux-kernel cell did."""
    probe = quote_probe(0)
    findings, _ = interpretable_cells(cell_activations(shakespeare, probe), ["quote"], top=3)
    best = findings[0]
    assert abs(best.r) > 0.25 and abs(best.r) > 2 * best.chance
    blanked = cell_activations(shakespeare, probe.replace("'", " "))
    control = correlations(blanked.cell(best.layer, best.cell)[:, None], text_features(probe)["quote"])[0]
    assert abs(control) < 0.15  # the cell follows the quote marks, not the words around them


@pytest.mark.slow
def test_cli_inspect_writes_a_page(shakespeare, tmp_path):
    text = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
            "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n")
    page = tmp_path / "cells.html"
    result = CliRunner().invoke(main, ["inspect", "shakespeare", text, "-o", str(page), "--json", "--top", "2", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    found = [json.loads(line) for line in result.stdout.splitlines()]
    assert {f["feature"] for f in found} == {"column", "line_start", "sentence_end", "vowel"}  # no quotes or brackets here
    assert len(found) == 8 and all(-1 <= f["r"] <= 1 and 1 <= f["layer"] <= 2 for f in found)
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "http" not in html
    assert html.count('<div class="text">') == 4 + 8  # one feature row and two cell rows per feature
    assert f"r = {found[0]['r']:+.3f}" in html and "quote: not shown, constant over the probe" in html
    # the probe from a file chooses the cells; TEXT from a file is shown
    probe = tmp_path / "probe.txt"
    probe.write_text(quote_probe(1), encoding="utf-8")
    textfile = tmp_path / "text.txt"
    textfile.write_text("He said 'away' and 'peace'.\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["inspect", "shakespeare", str(textfile), "--file", "--probe", str(probe),
                                       "--feature", "quote", "--top", "1", "-o", str(page), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("quote ") and "layer 2 cell 416" in result.stdout
    assert "He said" in page.read_text(encoding="utf-8")


def test_feature_choices_match_the_library():
    option = next(p for p in inspect.params if p.name == "features")
    assert list(option.type.choices) == list(FEATURES)


def _error(args) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_bad_inputs_are_one_line_errors(tmp_path):
    out = str(tmp_path / "cells.html")
    assert "only character language models" in _error(["inspect", "brown", "the jury said", "-o", out, "--device", "cpu"])
    assert "needs a character language model; this model is a tagger" in _error(["inspect", "ner", "x", "-o", out, "--device", "cpu"])
    missing = tmp_path / "missing.txt"
    assert f"{missing} is not a file" in _error(["inspect", "shakespeare", str(missing), "--file", "-o", out, "--device", "cpu"])
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    assert "not UTF-8" in _error(["inspect", "shakespeare", str(tmp_path / "latin1.txt"), "--file", "-o", out, "--device", "cpu"])
    assert "layer 3 does not exist" in _error(["inspect", "shakespeare", "To be, or not to be.", "--layer", "3", "-o", out, "--device", "cpu"])
    assert "does not exist" in _error(["inspect", "shakespeare", "To be.", "-o", str(tmp_path / "no" / "c.html"), "--device", "cpu"])
    assert "empty" in _error(["inspect", "shakespeare", "", "-o", out, "--device", "cpu"])
    assert not Path(out).exists()


def test_library_refuses_what_it_cannot_read(shakespeare):
    with pytest.raises(SeqtextError, match="state must be"):
        cell_activations(shakespeare, "abc", state="gates")
    with pytest.raises(SeqtextError, match="unknown feature 'rhyme'"):
        interpretable_cells(cell_activations(shakespeare, "To be, or not to be."), ["rhyme"])


def test_text_with_lone_surrogates_is_inspected_like_tag_and_classify_take_it(shakespeare, tmp_path, monkeypatch):
    """The bytes ``ab\\xed\\xa0\\x80cd`` on a command line arrive as lone surrogates (Python's
    surrogateescape): the findings print as JSON and the page shows U+FFFD for each."""
    monkeypatch.setattr(seqtext, "load", lambda *args, **kwargs: shakespeare)  # the model once for the module
    page = tmp_path / "cells.html"
    result = CliRunner().invoke(main, ["inspect", "shakespeare", "ab\udced\udca0\udc80cd\nab cd\n", "-o", str(page), "--json"])
    assert result.exit_code == 0, result.output
    assert all(json.loads(line)["feature"] for line in result.stdout.splitlines())
    shown = page.read_text(encoding="utf-8")  # valid UTF-8
    assert shown.count("\ufffd") > 0 and shown.count("\ufffd") % 3 == 0
