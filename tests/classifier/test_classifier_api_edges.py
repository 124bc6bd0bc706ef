"""The classifier's Python API at its edges (#24): called as a function (item 15), and texts of
the wrong type refused at the call by name, in seqtext and in the export runtime (item 13)."""

import json

import numpy as np
import pytest

import seqtext
from seqtext.classifier.model import TextClassifier
from seqtext.errors import SeqtextError
from seqtext.export.metadata import describe as describe_export
from seqtext.export.runtime import Classifier as RuntimeClassifier


@pytest.fixture(scope="module")
def sentiment():
    return seqtext.load("sentiment")


def test_calling_the_classifier_predicts(sentiment):
    texts = ["a gorgeous, witty, seductive movie.", "dull and lifeless."]
    assert sentiment(texts) == sentiment.predict(texts)
    assert sentiment(texts[0]) == sentiment.predict(texts[0])
    assert TextClassifier.__call__ is TextClassifier.predict  # same arguments, same docs


@pytest.mark.parametrize("texts,named", [
    (None, "texts must be a string, a list of strings or an iterable"),
    (5, "texts must be a string, a list of strings or an iterable"),
    (b"x", "texts must be a string, a list of strings or an iterable"),
    ({"a": 1}, "texts must be a string, a list of strings or an iterable"),
    (["ok", None], r"texts\[1\] must be a string"),
    (("ok", b"x"), r"texts\[1\] must be a string"),
])
def test_predict_refuses_wrong_types_at_the_call(sentiment, texts, named):
    """At the call, not when the result is read: a list comes back as a list, fully checked."""
    with pytest.raises(TypeError, match="^" + named) as refused:
        sentiment.predict(texts)
    assert isinstance(refused.value, SeqtextError)


def test_an_iterable_is_read_lazily_and_its_items_checked(sentiment):
    results = sentiment.predict(iter(["fine", "awful"]), batch_size=1)
    assert [r.text for r in results] == ["fine", "awful"]
    lazy = sentiment.predict(text for text in ["fine", 7])
    with pytest.raises(TypeError, match=r"^texts\[1\] must be a string"):
        list(lazy)


@pytest.mark.parametrize("arguments,error,named", [
    ({"batch_size": 0}, ValueError, "batch_size must be at least 1"),
    ({"batch_size": "2"}, TypeError, "batch_size must be a whole number"),
    ({"threshold": "0.5"}, TypeError, "threshold must be a number"),
    ({"threshold": 2}, ValueError, "threshold must be from 0 to 1"),
])
def test_options_are_checked_by_name(sentiment, arguments, error, named):
    with pytest.raises(error, match="^" + named):
        sentiment.predict(["fine"], **arguments)


def test_explain_refuses_what_is_not_a_string(sentiment):
    with pytest.raises(TypeError, match="^text must be a string"):
        sentiment.explain(["fine"])


class FakeGraph:
    """The runtime's view of an exported classifier without the file: its metadata, and
    probabilities that favour the first label."""

    def __init__(self, classifier):
        self.meta = json.loads(json.dumps(describe_export(classifier, "onnx")))

    def __call__(self, ids, lengths):
        probs = np.zeros((len(ids), len(self.meta["labels"])), dtype=np.float32)
        probs[:, 0] = 1.0
        return [probs, probs]


def test_runtime_checks_texts_as_seqtext_does(sentiment):
    runtime = RuntimeClassifier(FakeGraph(sentiment))
    first = runtime.labels[0]
    assert runtime.predict(["fine", "awful"]) == [first, first]
    assert runtime.predict("fine") == first  # one label for one text, not one per character
    for texts in (None, 5, {"a": 1}, ["ok", None]):
        with pytest.raises(TypeError, match=r"^texts(\[1\])? must be"):
            runtime.predict(texts)
