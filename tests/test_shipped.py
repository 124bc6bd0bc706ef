"""The models that ship inside the package work right after install, offline, and keep the
quality they were shipped with: measured here on held-out text, never read from their
metrics.json (which says what training saw, not what the files now do)."""

from pathlib import Path

import pytest
from click.testing import CliRunner

import seqtext
from seqtext.api import evaluate_files
from seqtext.cli.main import main
from seqtext.lm.scoring import evaluate_language_model

ROOT = Path(__file__).resolve().parents[1]


def test_shakespeare_generates_by_default():
    result = CliRunner().invoke(main, ["generate", "ROMEO:", "-n", "200", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ROMEO:") and len(result.stdout) > 100
    assert seqtext.load("shakespeare").tokenizer.kind == "char"


def test_shakespeare_cross_entropy_on_held_out_text():
    """16 pieces of about 1,000 characters from the last 10 % of the corpus (the validation
    split it was trained without), each read from a fresh state."""
    text = (ROOT / "corpora" / "shakespeare.txt").read_text(encoding="utf-8")
    lines = text[int(len(text) * 0.9) :].splitlines(keepends=True)
    lines = lines[1:]  # the split falls inside a line
    documents, piece = [], ""
    for line in lines:
        piece += line
        if len(piece) >= 1000:
            documents.append([piece])
            piece = ""
        if len(documents) == 16:
            break
    result = evaluate_language_model(seqtext.load("shakespeare"), documents)
    assert result["characters"] >= 16_000
    assert result["cross_entropy"] < 1.6, result


def test_shakespeare_reads_like_english_verse():
    lm = seqtext.load("shakespeare")
    text = lm.generate("ROMEO:", max_length=400, temperature=0.5, seed=0)[0]["text"]
    words = text.split()
    common = {"the", "and", "to", "of", "i", "you", "my", "a", "that", "is", "not", "me", "in", "it", "with"}
    assert sum(w.lower().strip(",.;:!?") in common for w in words) >= 0.1 * len(words), text


def test_models_lists_shipped():
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0 and "shakespeare" in result.stdout


@pytest.mark.parametrize("model", ["pos", "ner", "chunk"])
def test_shipped_taggers_name_their_language_models(model):
    """What a tagger records of its LMs names the shipped models, not the machine it was trained on."""
    entries = seqtext.load(model).network.config.contextual_lms
    assert [e["source"] for e in entries] == ["news-forward", "news-backward"]


@pytest.mark.parametrize("model", ["ner", "ner-fast"])
def test_ner_finds_person_and_place(model):
    result = CliRunner().invoke(main, ["tag", "Angela Merkel visited Paris on Tuesday.", "--model", model])
    assert result.exit_code == 0, result.output
    assert "[Angela Merkel]PER" in result.stdout and "[Paris]LOC" in result.stdout


def test_pos_tags_a_sentence():
    sentence = "I don't think the U.S. economy grew 3.5% in 2019, Mr. Smith said."
    result = CliRunner().invoke(main, ["tag", sentence, "--model", "pos"])
    assert result.exit_code == 0, result.output
    expected = ["I/PRON", "do/AUX", "n't/PART", "think/VERB", "the/DET", "U.S./PROPN", "economy/NOUN", "grew/VERB",
                "3.5%/NUM", "in/ADP", "2019/NUM", ",/PUNCT", "Mr./PROPN", "Smith/PROPN", "said/VERB", "./PUNCT"]
    got = result.stdout.split()
    assert len(got) == len(expected)
    assert sum(g == e for g, e in zip(got, expected)) >= len(expected) - 1, got


@pytest.mark.parametrize("model", ["chunk", "chunk-fast"])
def test_chunker_brackets_phrases(model):
    result = CliRunner().invoke(main, ["tag", "The old man saw a dog in the park.", "--model", model])
    assert result.exit_code == 0, result.output
    assert "[The old man]NP" in result.stdout and "[in]PP" in result.stdout


def test_sentiment_default_model():
    result = CliRunner().invoke(main, ["classify", "a gorgeous, witty, seductive movie."])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "positive"
    result = CliRunner().invoke(main, ["classify", "-"], input="a dull , lifeless mess .\nan utter delight .\n")
    assert result.stdout.split() == ["negative", "positive"]


def test_brown_generates_words():
    result = CliRunner().invoke(main, ["generate", "--model", "brown", "The jury", "-n", "30", "--seed", "1"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("The jury") and "<unk>" not in text
    assert text[len("The jury")] in " ,.;:!?'" and len(text.split()) > 10  # words, detokenized: "The jury, was ..."


@pytest.mark.slow
def test_brown_perplexity_on_valid_text(shared_data):
    """The first 200 sentences of the Brown validation split (about 5,300 tokens), read in order."""
    lines = (shared_data / "brown" / "valid.txt").read_text(encoding="utf-8").splitlines()[:200]
    result = evaluate_language_model(seqtext.load("brown"), [lines])
    assert result["tokens"] > 5000
    assert result["perplexity"] < 252, result


def test_sentiment_accuracy_on_sst2_dev(shared_data, tmp_path):
    lines = (shared_data / "sst2" / "sentences.dev").read_text(encoding="utf-8").splitlines()[:300]
    dev = tmp_path / "dev.txt"
    dev.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = evaluate_files(seqtext.load("sentiment"), [str(dev)])
    assert result["examples"] == 300
    assert result["accuracy"] > 0.8 and result["macro_f1"] > 0.8, result


@pytest.mark.parametrize("model, floor", [("ner-fast", 0.8), ("ner", 0.82)])
def test_ner_f1_on_conllpp_dev(shared_data, tmp_path, model, floor):
    blocks = (shared_data / "conllpp" / "dev.txt").read_text(encoding="utf-8").split("\n\n")
    sentences = [b for b in blocks if b.strip() and not b.startswith("-DOCSTART-")][:300]
    dev = tmp_path / "dev.txt"
    dev.write_text("\n\n".join(sentences) + "\n\n", encoding="utf-8")
    result = evaluate_files(seqtext.load(model), [str(dev)])
    assert result["sentences"] == 300
    assert result["f1"] > floor and result["accuracy"] > 0.95, result
