"""The tagger's Python API at its edges (#24): called as a function (item 15), and arguments of
the wrong type refused by name, in seqtext and in the export runtime (item 13)."""

import json

import numpy as np
import pytest

import seqtext
from seqtext.errors import SeqtextError
from seqtext.export.metadata import describe as describe_export
from seqtext.export.runtime import Tagger as RuntimeTagger
from seqtext.tagger.model import SequenceTagger


@pytest.fixture(scope="module")
def ner():
    return seqtext.load("ner-fast")


def test_calling_the_tagger_predicts(ner):
    text = "Angela Merkel visited Paris. She liked it."
    assert ner(text) == ner.predict(text)
    assert ner([text, "Bonn"], scheme="bio") == ner.predict([text, "Bonn"], scheme="bio")
    assert SequenceTagger.__call__ is SequenceTagger.predict  # same arguments, same docs


@pytest.mark.parametrize("text", [None, 5, b"Paris", {"Paris": 1}, ["Paris", None], [["Paris"]]])
def test_predict_refuses_what_is_not_text_by_name(ner, text):
    with pytest.raises(TypeError, match=r"^text must be a string or a list of strings") as refused:
        ner.predict(text)
    assert isinstance(refused.value, SeqtextError)


@pytest.mark.parametrize("sentences", ["Paris", ["Paris", "Bonn"], None, [["Paris", 5]]])
def test_tag_refuses_what_is_not_token_lists_by_name(ner, sentences):
    with pytest.raises(TypeError, match=r"^sentences: tag\(\) takes a list of token lists"):
        ner.tag(sentences)


@pytest.mark.parametrize("batch_size,error", [(0, ValueError), ("8", TypeError), (True, TypeError)])
def test_batch_size_is_checked_by_name(ner, batch_size, error):
    for call in (lambda: ner.predict("Paris", batch_size=batch_size), lambda: ner.tag([["Paris"]], batch_size=batch_size),
                 lambda: ner.predict_tokens([["Paris"]], batch_size=batch_size)):
        with pytest.raises(error, match=r"^batch_size must be"):
            call()


class FakeGraph:
    """The runtime's view of an exported tagger without the file: its metadata, and emissions
    that favour tag 1 (the network itself is the export tests' business)."""

    def __init__(self, tagger):
        self.meta = json.loads(json.dumps(describe_export(tagger, "onnx")))
        self.meta["crf"] = None

    def __call__(self, words, *rest):
        emissions = np.zeros((*words.shape, len(self.meta["tags"])), dtype=np.float32)
        emissions[..., 1] = 1.0
        return [emissions]


def test_runtime_refuses_a_list_of_strings_as_seqtext_does(ner):
    runtime = RuntimeTagger(FakeGraph(ner))
    assert len(runtime.tag([["Angela", "Merkel"], []])[0]) == 2
    for sentences in (["abc"], "abc", [["abc", None]], None):
        with pytest.raises(TypeError, match=r"^sentences must be a list of token lists"):
            runtime.tag(sentences)
        with pytest.raises(TypeError, match=r"^sentences must be a list of token lists"):
            runtime.tag_ids(sentences)
