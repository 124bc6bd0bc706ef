"""Spans in the formats other tools read: displaCy's manual format and the Hugging Face
token-classification pipeline's entities, from the result objects and from `seqtext tag
--format displacy|hf`; spaCy's displaCy draws them where spaCy is installed."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import seqtext
from seqtext.cli.main import main
from seqtext.results import Span, TaggedDocument, Token

TEXT = "Angela Merkel visited Paris on Tuesday."


@pytest.fixture(scope="module")
def ner():
    return seqtext.load("ner-fast", device="cpu")


def document() -> TaggedDocument:
    tokens = [Token("Angela", 0, 6, "B-PER", 0.99), Token("Merkel", 7, 13, "I-PER", 0.98), Token("visited", 14, 21, "O", 1.0),
              Token("Paris", 22, 27, "B-LOC", 0.97), Token(".", 27, 28, "O", 1.0)]
    spans = [Span("Angela Merkel", "PER", 0, 13, 0.95), Span("Paris", "LOC", 22, 27, 0.97)]
    return TaggedDocument("Angela Merkel visited Paris.", tokens, spans, [(0, 28)])


def test_to_displacy_is_displacys_manual_format():
    assert document().to_displacy() == {"text": "Angela Merkel visited Paris.", "ents": [
        {"start": 0, "end": 13, "label": "PER"}, {"start": 22, "end": 27, "label": "LOC"}]}


def test_to_hf_is_the_token_classification_pipelines_entities():
    assert document().to_hf() == [
        {"entity_group": "PER", "score": 0.95, "word": "Angela Merkel", "start": 0, "end": 13},
        {"entity_group": "LOC", "score": 0.97, "word": "Paris", "start": 22, "end": 27}]
    none_found = TaggedDocument("it rains", [Token("it", 0, 2, "O", 1.0), Token("rains", 3, 8, "O", 1.0)], [], [(0, 8)])
    assert none_found.to_hf() == [] and none_found.to_displacy() == {"text": "it rains", "ents": []}
    pos = TaggedDocument("I ran", [Token("I", 0, 1, "PRON", 0.9), Token("ran", 2, 5, "VERB", 0.8)], [], [(0, 5)])
    assert pos.to_hf() == [{"entity_group": "PRON", "score": 0.9, "word": "I", "start": 0, "end": 1},
                           {"entity_group": "VERB", "score": 0.8, "word": "ran", "start": 2, "end": 5}]


@pytest.mark.slow  # the first tagging in a process: about 3 s
@pytest.mark.parametrize("fmt", ["displacy", "hf"])
def test_cli_writes_one_json_line_per_document(ner, monkeypatch, fmt):
    monkeypatch.setattr(seqtext, "load", lambda *args, **kwargs: ner)  # the model once for the module
    result = CliRunner().invoke(main, ["tag", "-m", "ner-fast", "--format", fmt], input=f"{TEXT}\nNothing here.\n")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    expected = ner.predict([TEXT, "Nothing here."])  # one batch, as the command tags them
    assert lines == [d.to_displacy() if fmt == "displacy" else d.to_hf() for d in expected]
    if fmt == "displacy":
        assert {(TEXT[e["start"]:e["end"]], e["label"]) for e in lines[0]["ents"]} >= {("Angela Merkel", "PER"), ("Paris", "LOC")}
    else:
        assert {(e["word"], e["entity_group"]) for e in lines[0]} >= {("Angela Merkel", "PER"), ("Paris", "LOC")}
        assert all(TEXT[e["start"]:e["end"]] == e["word"] and 0 < e["score"] <= 1 for e in lines[0])


def test_displacy_renders_the_spans(ner):
    displacy = pytest.importorskip("spacy.displacy", reason="spaCy is not installed (pip install spacy); seqtext does not need it")
    page = displacy.render([ner.predict(TEXT).to_displacy()], style="ent", manual=True, page=True)
    for name, label in (("Angela Merkel", "PER"), ("Paris", "LOC")):
        assert name in page and label in page
    assert page.count("<mark") == len(ner.predict(TEXT).spans)
