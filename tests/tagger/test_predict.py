"""Raw text in, character offsets and real probabilities out: ``SequenceTagger.predict``, the
CRF's forward-backward against brute force, the result objects, and the ``tag`` command's jsonl,
html and progress output."""

import itertools
import json
import math
import shutil

import pytest
import torch
from click.testing import CliRunner

import seqtext
from seqtext.cli.main import main
from seqtext.errors import SeqtextError
from seqtext.results import Classification, Generation, TaggedDocument
from seqtext.tagger.crf import CRF
from seqtext.tagger.model import (
    BiRNNTagger,
    SequenceTagger,
    TaggerConfig,
    span_transitions,
)
from seqtext.tagger.schemes import to_spans
from seqtext.text.split import iter_sentence_offsets, split_sentences, tokenize_text
from seqtext.text.tokenizers import CharTokenizer, WordTokenizer

NASTY = [
    "",
    "   \t \n  ",
    "Angela   Merkel\tvisited\n\nParis .",
    "  She said \"don't go\" — then 'left'.  ",
    "Zoë Ölçer flew to Zürich 🚀🚀 on 3.5% fuel…\r\nThe U.S. didn't mind!",
    "\n\n\tIt's 10:30 , isn't it ?\u00a0Yes.\n",
    "a" + " " * 50 + "b\t\t\tc\n\n\n\nd",
]


@pytest.fixture(scope="module")
def ner():
    return seqtext.load("ner")


@pytest.fixture(scope="module")
def pos():
    return seqtext.load("pos")


def assert_offsets_exact(document: TaggedDocument):
    text = document.text
    previous_end = 0
    for token in document.tokens:
        assert text[token.start_char : token.end_char] == token.text and token.text
        assert token.start_char >= previous_end and not token.text.isspace()
        assert 0.0 < token.score <= 1.0
        previous_end = token.end_char
    assert "".join(t.text for t in document.tokens) == "".join(text.split())  # every character, once
    for span in document.spans:
        assert text[span.start_char : span.end_char] == span.text
        assert 0.0 < span.score <= 1.0
    for start, end in document.sentences:
        assert text[start:end].strip() == text[start:end] != ""


# -- offsets -----------------------------------------------------------------------------
@pytest.mark.parametrize("text", NASTY, ids=range(len(NASTY)))
def test_offsets_are_exact_on_nasty_text(text, ner, pos):
    for model in (ner, pos):
        document = model.predict(text)
        assert document.text == text
        assert_offsets_exact(document)
    if not text.strip():
        assert document.tokens == [] and document.spans == [] and document.sentences == []


def test_textsplit_offsets_give_the_old_strings():
    for text in NASTY + ["Mr. Smith went to Washington. He did! " * 3, "word " * 700]:
        pieces = list(iter_sentence_offsets(text))
        assert [text[a:b] for a, b, _ in pieces] == split_sentences(text)
        assert [[text[a:b] for a, b in tokens] for _, _, tokens in pieces] == tokenize_text(text)


def test_pretokenized_input_indexes_the_space_joined_text(ner):
    sentences = [["Angela", "Merkel", "visited", "Paris", "."], [], ["a b", "c"]]
    documents = ner.predict_tokens(sentences)
    assert [d.text for d in documents] == ["Angela Merkel visited Paris .", "", "a b c"]
    for document, tokens in zip(documents, sentences):
        assert_offsets_exact(document) if " " not in "".join(tokens) else None
        assert [t.text for t in document.tokens] == tokens
        assert all(document.text[t.start_char : t.end_char] == t.text for t in document.tokens)
    assert [t.tag for t in documents[0].tokens] == ner.tag(sentences)[0]


# -- the shipped models ------------------------------------------------------------------
def test_ner_finds_merkel_and_paris_with_offsets(ner):
    text = "Angela Merkel visited  Paris on Tuesday."
    document = ner.predict(text)
    found = {(s.text, s.label, s.start_char, s.end_char) for s in document.spans}
    assert ("Angela Merkel", "PER", 0, 13) in found and ("Paris", "LOC", 23, 28) in found
    assert all(s.score > 0.5 for s in document.spans)
    assert [t.tag for t in document.tokens] == ["B-PER", "I-PER", "O", "B-LOC", "O", "O", "O"]
    assert json.loads(json.dumps(document.to_dict()))["spans"][0]["label"] == "PER"


def test_predict_on_a_list_is_predict_on_each(ner, pos):
    texts = ["Angela Merkel visited Paris.", "", "He met Barack Obama in Washington. Then he left.", NASTY[4]]
    for model in (ner, pos):
        together = model.predict(texts)
        alone = [model.predict(text) for text in texts]
        assert len(together) == len(texts)
        for a, b in zip(together, alone):
            a, b = a.to_dict(), b.to_dict()
            scores = lambda d: [x["score"] for x in d["tokens"] + d["spans"]]  # noqa: E731
            assert scores(a) == pytest.approx(scores(b), abs=1e-4)  # batches of other shapes: float noise
            strip = lambda d: [{k: v for k, v in x.items() if k != "score"} for x in d["tokens"] + d["spans"]]  # noqa: E731
            assert strip(a) == strip(b) and a["sentences"] == b["sentences"]


def test_predict_agrees_with_tag(ner):
    text = "EU rejects German call to boycott British lamb. Peter Blackburn reports from Brussels."
    document = ner.predict(text)
    assert [t.tag for t in document.tokens] == [tag for tags in ner.tag(tokenize_text(text)) for tag in tags]


def test_a_list_of_strings_is_never_read_as_tokens(ner):
    with pytest.raises(SeqtextError, match=r"predict\(text\)"):
        ner.tag(["Angela Merkel visited Paris."])
    with pytest.raises(SeqtextError, match=r"predict\(text\)"):
        ner.tag("Angela Merkel visited Paris.")
    with pytest.raises(SeqtextError, match="predict_tokens"):
        ner.predict([["Angela", "Merkel"]])
    assert ner.tag([["Angela", "Merkel"]]) == [["B-PER", "I-PER"]]


# -- the CRF against brute force -----------------------------------------------------------
def random_crf(num_tags: int, seed: int) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(num_tags)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def enumerate_paths(crf, emissions, mask, b):
    """Every tag sequence of item b with its unnormalised probability, and the partition."""
    length, width = int(mask[b].sum()), emissions.size(1)
    paths = {}
    for path in itertools.product(range(crf.num_tags), repeat=length):
        tags = torch.tensor([list(path) + [0] * (width - length)])
        paths[path] = math.exp(crf.sequence_score(emissions[b : b + 1], tags, mask[b : b + 1]).item())
    return paths, sum(paths.values())


def test_marginals_match_brute_force_and_sum_to_one():
    crf = random_crf(3, 0)
    emissions = torch.randn(3, 5, 3) * 2
    mask = torch.tensor([[True] * 5, [True, True, True, False, False], [True, False, False, False, False]])
    marginals = crf.marginals(emissions, mask)
    assert torch.allclose(marginals.sum(-1), mask.double(), atol=1e-9)
    for b in range(3):
        paths, total = enumerate_paths(crf, emissions, mask, b)
        length = int(mask[b].sum())
        expected = torch.zeros(length, 3, dtype=torch.float64)
        for path, weight in paths.items():
            for t, tag in enumerate(path):
                expected[t, tag] += weight / total
        assert torch.allclose(marginals[b, :length], expected, atol=1e-5)


@pytest.mark.parametrize("tags,scheme", [
    (["O", "B-X", "I-X", "E-X", "S-X", "B-Y", "E-Y"], "bioes"),
    (["O", "B-X", "I-X", "B-Y", "I-Y"], "bio"),
])
def test_span_probability_matches_brute_force(tags, scheme):
    """For every possible span: p(the span is among to_spans(tags)) summed over all tag
    sequences, invalid ones included (to_spans repairs them as conlleval does)."""
    crf = random_crf(len(tags), 1)
    emissions = torch.randn(2, 4, len(tags))
    mask = torch.tensor([[True] * 4, [True, True, True, False]])
    fb = crf.forward_backward(emissions, mask)
    kinds, enter, inside, leave = span_transitions(tags)
    for b in range(2):
        paths, total = enumerate_paths(crf, emissions, mask, b)
        expected: dict = {}
        for path, weight in paths.items():
            for span in to_spans([tags[i] for i in path], scheme):
                expected[span] = expected.get(span, 0.0) + weight / total
        length = int(mask[b].sum())
        spans = [(kind, s, e) for kind in kinds for s in range(length) for e in range(s + 1, length + 1)]
        index = torch.tensor([kinds[kind] for kind, _, _ in spans])
        log_p = crf.span_log_probs(emissions, mask, fb, torch.full((len(spans),), b), torch.tensor([s for _, s, _ in spans]),
                                   torch.tensor([e for _, _, e in spans]), enter[index], inside[index], leave[index])
        for span, value in zip(spans, log_p.exp().tolist()):
            assert value == pytest.approx(expected.get(span, 0.0), abs=1e-5), span
        assert any(v > 0.05 for v in expected.values())  # the comparison is not all zeros


def test_softmax_tagger_scores_are_softmax_probabilities():
    tags = ["O", "B-X", "I-X"]
    words = WordTokenizer(["<pad>", "<unk>", "<bos>", "<eos>", "a", "b"], split="whitespace")
    chars = CharTokenizer.train(["ab"])
    torch.manual_seed(0)
    network = BiRNNTagger(TaggerConfig(words.vocab_size, 3, chars.vocab_size, word_dim=4, char_dim=4, char_hidden=4,
                                       hidden_size=4, dropout=0.0, decoder="softmax"))
    with torch.no_grad():
        network.emissions.weight.mul_(20)  # confident, varied predictions
    tagger = SequenceTagger(network, words, chars, tags, scheme="bio", train_scheme="bio")
    sentences = [["a", "b", "a", "a", "b"], ["b", "b", "a"]]
    from seqtext.tagger.model import make_batch

    with torch.no_grad():
        probs = network(make_batch(sentences, words, chars)).double().softmax(-1)
    for row, document in enumerate(tagger.predict_tokens(sentences)):
        best = probs[row, : len(sentences[row])].max(-1)
        assert [t.tag for t in document.tokens] == [tags[i] for i in best.indices.tolist()]
        assert [t.score for t in document.tokens] == pytest.approx(best.values.tolist(), abs=1e-5)
        for span in document.spans:  # independent positions: the brute force is a short sum
            first = span.start_char // 2
            last = first + len(span.text.split())
            p = probs[row]
            inside = p[first, 1] + (p[first, 2] * (1 - p[first - 1, 1] - p[first - 1, 2]) if first else p[first, 2])
            for t in range(first + 1, last):
                inside = inside * p[t, 2]
            closing = 1 - p[last, 2] if last < len(sentences[row]) else 1.0
            assert span.score == pytest.approx(float(inside * closing), abs=1e-5)


# -- result objects ------------------------------------------------------------------------
def test_result_objects_keep_dict_access():
    result = Classification("good", "positive", ["positive"], {"negative": 0.1, "positive": 0.9})
    assert result["label"] == "positive" and result.get("missing") is None and "probs" in result
    assert result.to_dict() == {"text": "good", "label": "positive", "labels": ["positive"],
                                "probs": {"negative": 0.1, "positive": 0.9}}
    with pytest.raises(KeyError):
        result["nothing"]
    generation = Generation("", 0, "eos")
    assert generation == {"text": "", "tokens": 0, "finish": "eos"} and dict(generation)["finish"] == "eos"


def test_classifier_and_lm_return_result_objects():
    (result,) = seqtext.load("sentiment").predict(["a gorgeous, witty, seductive movie."])
    assert isinstance(result, Classification) and result.label == "positive" and result.labels == ["positive"]
    assert sum(result.probs.values()) == pytest.approx(1.0)
    (sample,) = seqtext.load("shakespeare").generate("ROMEO:", max_length=5, seed=0)
    assert isinstance(sample, Generation) and sample.tokens <= 5 and sample.finish in ("eos", "length")


# -- the tag command -----------------------------------------------------------------------
def test_cli_jsonl_has_offsets_into_each_input_line():
    lines = ["Angela  Merkel visited\tParis.", "", "Zoë met Barack Obama in Zürich 🚀. He didn't stay."]
    result = CliRunner().invoke(main, ["tag", "-", "--format", "jsonl"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["text"] for row in rows] == lines  # one document per line, blank lines too
    for row in rows:
        for item in row["tokens"] + row["spans"]:
            assert row["text"][item["start_char"] : item["end_char"]] == item["text"]
    assert {(s["text"], s["label"]) for s in rows[0]["spans"]} >= {("Angela  Merkel", "PER"), ("Paris", "LOC")}
    assert ("Barack Obama", "PER") in {(s["text"], s["label"]) for s in rows[2]["spans"]}
    assert len(rows[2]["sentences"]) == 2 and all(0 < t["score"] <= 1 for t in rows[2]["tokens"])
    tokens = CliRunner().invoke(main, ["tag", "-", "--input-format", "tokens", "--format", "jsonl", "--tag-scheme", "bioes"],
                                input="Angela Merkel visited Paris .\n")
    (row,) = [json.loads(line) for line in tokens.stdout.splitlines()]
    assert row["text"] == "Angela Merkel visited Paris ." and [t["tag"] for t in row["tokens"]] == ["B-PER", "E-PER", "O", "S-LOC", "O"]
    assert [(s["start_char"], s["end_char"]) for s in row["spans"]] == [(0, 13), (22, 27)]


def test_cli_html_shows_original_text_with_labels():
    text = "Angela  Merkel\tvisited Paris."
    page = CliRunner().invoke(main, ["tag", text, "--format", "html"]).stdout
    assert "Angela</span>" in page and '<span class="g" style="color:#b45f06">B-PER</span></span>  <span class="t"' in page
    assert page.count("<mark") == 2 and ">PER</span></mark>" in page and ">LOC</span></mark>" in page
    assert "</mark>\t<span" in page  # the tab between Merkel and visited, as written
    sentence = "I don't think so."
    page = CliRunner().invoke(main, ["tag", sentence, "--model", "pos", "--format", "html"]).stdout
    assert page.count('class="t"') == page.count('class="g"') == 6 and "<mark" not in page
    assert 'class="w">do</span>' in page and 'class="w">n&#x27;t</span>' in page


@pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")), reason="chromium not installed")
def test_html_pos_labels_render_under_each_token(tmp_path):
    """In a real browser: every token's tag is drawn below the token's word, not beside it."""
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    page = CliRunner().invoke(main, ["tag", "The old  man saw a dog in the park.", "--model", "pos", "--format", "html"]).stdout
    (tmp_path / "page.html").write_text(page, encoding="utf-8")
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    try:
        driver.get((tmp_path / "page.html").as_uri())
        tokens = driver.find_elements(By.CSS_SELECTOR, ".t")
        assert len(tokens) == 10
        for token in tokens:
            word, label = token.find_element(By.CSS_SELECTOR, ".w"), token.find_element(By.CSS_SELECTOR, ".g")
            assert label.text and label.location["y"] >= word.location["y"] + word.size["height"] - 1
            assert abs((label.location["x"] + label.size["width"] / 2) - (word.location["x"] + word.size["width"] / 2)) < 2
    finally:
        driver.quit()


def test_progress_bar_goes_to_stderr_only(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("Angela Merkel visited Paris.\nThe old man saw a dog.\n", encoding="utf-8")
    quiet = CliRunner().invoke(main, ["tag", "--input", str(source), "--format", "jsonl"])
    shown = CliRunner().invoke(main, ["tag", "--input", str(source), "--format", "jsonl", "--progress"])
    assert quiet.exit_code == shown.exit_code == 0
    assert shown.stdout == quiet.stdout and len(shown.stdout.splitlines()) == 2
    assert "100%" in shown.stderr and "B/s" in shown.stderr and quiet.stderr == ""
    classified = CliRunner().invoke(main, ["classify", "--input", str(source), "--progress"])
    assert classified.exit_code == 0 and len(classified.stdout.splitlines()) == 2 and "100%" in classified.stderr
    both = CliRunner().invoke(main, ["tag", "text", "--input", str(source)])
    assert both.exit_code == 1 and "not both" in both.stderr


def test_classifier_predict_takes_one_text_a_list_or_a_stream():
    import seqtext

    model = seqtext.load("sentiment")
    one = model.predict("a gorgeous, witty, seductive movie.")
    assert one.text == "a gorgeous, witty, seductive movie." and one.label == "positive"  # never read letter by letter
    many = model.predict(["a gorgeous, witty, seductive movie.", "a dull, lifeless mess."])
    assert isinstance(many, list) and [r.label for r in many] == ["positive", "negative"]
    lazy = model.predict(iter(["a dull, lifeless mess."]))
    assert not isinstance(lazy, list) and [r.label for r in lazy] == ["negative"]


def test_an_unknown_output_scheme_is_refused():
    import seqtext
    from seqtext.errors import SeqtextError

    ner, pos = seqtext.load("ner"), seqtext.load("pos")
    assert [t.tag for t in ner.predict("Paris", scheme="bioes").tokens] == ["S-LOC"]
    with pytest.raises(SeqtextError, match="unknown tag scheme 'foo'"):
        ner.predict("Paris", scheme="foo")
    with pytest.raises(SeqtextError, match="not spans"):
        pos.tag([["a"]], scheme="bio")
    assert pos.tag([["a"]], scheme=pos.scheme) == pos.tag([["a"]])
