"""The baselines printed beside a trained model's dev score: fitted on the same split, exact on
small hand-checked cases, and written into metrics.json."""

import json

import pytest

from seqtext.classifier.baselines import tfidf_logistic_regression
from seqtext.tagger.baselines import most_frequent_tag
from seqtext.tagger.conll import Sentence


def test_most_frequent_tag_by_form_then_lower_case_then_overall():
    train = [Sentence(["Paris", "is", "big"], ["B-LOC", "O", "O"]), Sentence(["paris", "Paris"], ["O", "B-LOC"]),
             Sentence(["Bob", "runs"], ["B-PER", "O"])]
    dev = [Sentence(["PARIS", "Bob", "walks"], ["B-LOC", "B-PER", "O"])]
    # PARIS -> lower-case "paris": B-LOC twice ("Paris" x2 lower-cased) against O once; walks -> overall O
    result = most_frequent_tag(train, dev, "bio")
    assert result["accuracy"] == 1.0 and result["f1"] == 1.0
    wrong = [Sentence(["big", "Bob"], ["B-LOC", "O"])]
    result = most_frequent_tag(train, wrong, "bio")
    assert result["accuracy"] == 0.0 and result["f1"] == 0.0


def test_most_frequent_tag_compares_spans_across_schemes():
    train = [Sentence(["New", "York"], ["I-LOC", "I-LOC"])]  # IOB1
    dev = [Sentence(["New", "York"], ["B-LOC", "I-LOC"])]  # BIO
    assert most_frequent_tag(train, dev, "iob1", "bio")["f1"] == 1.0
    assert most_frequent_tag(train, dev)["f1"] == 1.0  # auto: each side's scheme detected


def test_tfidf_baseline_learns_words_and_bigrams():
    train = ["good movie", "great film", "not good", "not great", "bad movie", "awful film", "good", "great"] * 5
    labels = [["pos"], ["pos"], ["neg"], ["neg"], ["neg"], ["neg"], ["pos"], ["pos"]] * 5
    result = tfidf_logistic_regression(train, labels, ["good film", "not good film"], [["pos"], ["neg"]])
    assert result["accuracy"] == 1.0 and result["metric"] == "accuracy"


def test_training_prints_and_keeps_the_baseline(tmp_path):
    from click.testing import CliRunner

    from seqtext.cli.main import main

    lines = [f"{'1' if i % 2 else '0'}\t{'a fine lovely film' if i % 2 else 'a dull awful film'} number {i}" for i in range(120)]
    corpus = tmp_path / "train.tsv"
    corpus.write_text("label\ttext\n" + "\n".join(lines) + "\n")
    out = tmp_path / "model"
    result = CliRunner().invoke(main, ["train", "classifier", str(corpus), "-o", str(out), "--max-steps", "3", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "baseline on the same split: TF-IDF (1-2 grams) + logistic regression (accuracy 1.0000)" in result.output
    assert json.loads((out / "metrics.json").read_text())["baseline"]["accuracy"] == pytest.approx(1.0)


def test_tagger_training_prints_and_keeps_the_most_frequent_tag_baseline(tmp_path):
    from click.testing import CliRunner

    from seqtext.cli.main import main

    # "bank" is a noun after "the" and a verb after "we": the most frequent tag gets one of the two wrong.
    sentences = ["the\tDET\nbank\tNOUN\nopens\tVERB", "we\tPRON\nbank\tVERB\nhere\tADV", "the\tDET\nbank\tNOUN\ncloses\tVERB"]
    train, dev = tmp_path / "train.txt", tmp_path / "dev.txt"
    train.write_text("\n\n".join(sentences * 20) + "\n")
    dev.write_text("we\tPRON\nbank\tVERB\nhere\tADV\n")
    out = tmp_path / "tagger"
    result = CliRunner().invoke(main, ["train", "tagger", str(train), "--dev", str(dev), "-o", str(out), "--max-steps", "2",
                                       "--quiet"])
    assert result.exit_code == 0, result.output
    assert "baseline on the same split: most frequent tag per word (accuracy 0.6667)" in result.output
    assert json.loads((out / "metrics.json").read_text())["baseline"]["accuracy"] == pytest.approx(2 / 3)
