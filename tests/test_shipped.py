"""The models that ship inside the package work right after install, offline, and keep the
quality they were shipped with (their metrics.json holds the validation figures)."""

from click.testing import CliRunner

import seqtext
from seqtext.cli.main import main


def test_shakespeare_generates_by_default():
    result = CliRunner().invoke(main, ["generate", "ROMEO:", "-n", "200", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ROMEO:") and len(result.stdout) > 100
    lm = seqtext.load("shakespeare")
    assert lm.tokenizer.kind == "char" and lm.metrics["loss"] <= 1.60


def test_shakespeare_reads_like_english_verse():
    lm = seqtext.load("shakespeare")
    text = lm.generate("ROMEO:", max_length=400, temperature=0.5, random_seed=0)[0]["text"]
    words = text.split()
    common = {"the", "and", "to", "of", "i", "you", "my", "a", "that", "is", "not", "me", "in", "it", "with"}
    assert sum(w.lower().strip(",.;:!?") in common for w in words) >= 0.1 * len(words), text


def test_models_lists_shipped():
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0 and "shakespeare" in result.stdout


def test_ner_finds_person_and_place():
    result = CliRunner().invoke(main, ["tag", "Angela Merkel visited Paris on Tuesday.", "--model", "ner"])
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


def test_chunker_brackets_phrases():
    result = CliRunner().invoke(main, ["tag", "The old man saw a dog in the park.", "--model", "chunk"])
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
    assert result.stdout.startswith("The jury ") and "<unk>" not in result.stdout
    assert seqtext.load("brown").metrics["perplexity"] < 252
