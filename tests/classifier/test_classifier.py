"""The GRU classifier on real SST-2 sentences (from ../shared/data), readers, CLI."""

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import seqtext
from seqtext.classifier.data import read_examples
from seqtext.classifier.model import (
    ClassifierConfig,
    class_weights,
    classification_loss,
)
from seqtext.classifier.ngrams import bigram_buckets
from seqtext.classifier.scoring import evaluate_classifier
from seqtext.classifier.training import ClassifierDataOptions, train_classifier
from seqtext.cli.main import main
from seqtext.core.trainer import TrainConfig
from seqtext.errors import DataError


@pytest.fixture(scope="module")
def split_files(tmp_path_factory, shared_data):
    """1,000 SST-2 training sentences and 300 dev sentences ('label text' lines)."""
    sst2 = shared_data / "sst2"
    train = (sst2 / "sentences.train").read_text(encoding="utf-8").splitlines()[:1000]
    dev = (sst2 / "sentences.dev").read_text(encoding="utf-8").splitlines()[:300]
    folder = tmp_path_factory.mktemp("sentiment")
    (folder / "train.txt").write_text("\n".join(train) + "\n", encoding="utf-8")
    (folder / "dev.txt").write_text("\n".join(dev) + "\n", encoding="utf-8")
    return folder / "train.txt", folder / "dev.txt"


def _train(split_files, out, pooling="attention", multi_label=False, steps=150, **data):
    train, dev = split_files
    return train_classifier(
        str(train), str(dev), out,
        ClassifierConfig(0, 0, embedding_dim=64, hidden_size=64, pooling=pooling, multi_label=multi_label),
        ClassifierDataOptions(batch_size=32, label_names={"0": "negative", "1": "positive"}, **data),
        TrainConfig(epochs=30, max_steps=steps, lr=5e-3, warmup_steps=10, eval_every=40, progress=False),
    )


@pytest.fixture(scope="module")
def sentiment_dir(split_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("clf") / "sentiment"
    _train(split_files, out, lowercase=True)
    return out


def majority_share(path) -> float:
    labels = [line.split(" ", 1)[0] for line in Path(path).read_text().splitlines() if line.strip()]
    return max(labels.count(label) for label in set(labels)) / len(labels)


@pytest.mark.slow
def test_beats_majority_class(sentiment_dir, split_files):
    model = seqtext.load(sentiment_dir)
    report = evaluate_classifier(model, read_examples(str(split_files[1])))
    assert report["accuracy"] > majority_share(split_files[1]) + 0.08, report["accuracy"]
    assert model.network.config.small_embeddings  # word tokens: as a word LM's (tests/test_lm.py)


def test_probabilities_sum_to_one_and_save_load(sentiment_dir, tmp_path):
    model = seqtext.load(sentiment_dir)
    texts = ["a gorgeous , witty , seductive movie .", "dull and lifeless .", "x"]
    probs = model.probabilities(texts)
    assert torch.allclose(probs.sum(-1), torch.ones(3), atol=1e-5)
    model.save(tmp_path / "copy")
    assert torch.equal(seqtext.load(tmp_path / "copy").probabilities(texts), probs)


def test_explain_covers_every_token_through_the_paths_that_count(sentiment_dir):
    """Attention weights while only the network counts; the n-gram path's part when it counts:
    alone, the tokens' scores add up to the path's margin for the predicted class (bias aside),
    a word seen twice shares its weight, and a bigram's half goes to each of its words."""
    model = seqtext.load(sentiment_dir)
    text = "a gorgeous , witty movie , witty"
    pieces = ["a", "gorgeous", ",", "witty", "movie", ",", "witty"]
    paths = model.network.ngrams
    paths.recurrent_weight.fill_(1.0)
    paths.ngram_weight.fill_(0.0)
    scores = model.explain(text)
    assert [piece for piece, _ in scores] == pieces
    assert sum(s for _, s in scores) == pytest.approx(1.0, abs=1e-5)  # attention weights
    paths.recurrent_weight.fill_(0.0)
    paths.ngram_weight.fill_(1.0)
    ids = model.encode(text)
    logits = paths(torch.tensor([ids]), torch.tensor([len(ids)]))[0] - paths.bias
    predicted = model.labels.index(model.predict(text).label)
    margin = 2 * logits[predicted] - logits.sum()  # two classes: the predicted one's logit minus the other's
    scores = model.explain(text)
    assert [piece for piece, _ in scores] == pieces
    assert sum(s for _, s in scores) == pytest.approx(margin.item(), abs=1e-4)
    sign = 1.0 if predicted == 1 else -1.0  # two classes: the path's weights are the second class's logits
    column = paths.weight[:, 1]
    bigram = lambda a, b: column[paths.vocab_size + int(bigram_buckets(torch.tensor(a), torch.tensor(b), paths.buckets))]
    # "movie" (index 4): its unigram, half of "witty movie" and half of "movie ,"
    expected = column[ids[4]] + (bigram(ids[3], ids[4]) + bigram(ids[4], ids[5])) / 2
    assert scores[4][1] == pytest.approx(sign * expected.item(), abs=1e-5)
    # "witty" twice: each occurrence gets half of the unigram's weight
    assert scores[6][1] == pytest.approx(sign * (column[ids[6]] / 2 + bigram(ids[5], ids[6]) / 2 / 2).item(), abs=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_every_pooling_trains(pooling, split_files, tmp_path):
    model = _train(split_files, tmp_path / pooling, pooling=pooling, steps=160, lowercase=True)
    assert model.metrics["accuracy"] > majority_share(split_files[1]) + 0.03, model.metrics
    assert len(model.explain("a fine film")) == 3  # gradient x input


@pytest.mark.slow
def test_multi_label(tmp_path):
    rows = []
    for i in range(240):
        topics = [t for t, on in (("sport", i % 2 == 0), ("money", i % 3 == 0)) if on] or ["other"]
        words = (["match goal team"] if "sport" in topics else []) + (["bank price stock"] if "money" in topics else [])
        rows.append({"text": " ".join(words + ["today news"]) + f" item{i % 7}", "label": ",".join(topics)})
    path = tmp_path / "multi.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    model = train_classifier(
        str(path), None, tmp_path / "multi",
        ClassifierConfig(0, 0, embedding_dim=16, hidden_size=16, multi_label=True),
        ClassifierDataOptions(batch_size=16),
        TrainConfig(epochs=40, max_steps=200, lr=1e-2, warmup_steps=5, eval_every=100, progress=False),
    )
    assert model.labels == ["money", "other", "sport"]
    (prediction,) = model.predict(["match goal team bank price stock today news"])
    assert set(prediction["labels"]) == {"sport", "money"}
    assert model.metrics["score"] > 0.9


def test_pretrained_vectors_initialise_embeddings(split_files, tmp_path):
    (tmp_path / "vectors.txt").write_text("3 4\nfilm 0.5 0.5 0.5 0.5\nthe 1 2 3 4\nzzzunseen 1 1 1 1\n")
    train, dev = split_files
    model = train_classifier(
        str(train), str(dev), tmp_path / "vec",
        ClassifierConfig(0, 0, hidden_size=8),
        ClassifierDataOptions(lowercase=True, embeddings=str(tmp_path / "vectors.txt")),
        TrainConfig(epochs=1, max_steps=1, lr=1e-9, warmup_steps=0, progress=False),
    )
    assert model.network.config.embedding_dim == 4
    the = model.tokenizer.stoi["the"]
    assert torch.allclose(model.network.embedding.weight[the], torch.tensor([1.0, 2, 3, 4]), atol=1e-4)


def test_class_weights_balanced_change_the_loss():
    weights = class_weights([[0], [0], [0], [1]], 2, multi_label=False)
    assert weights.tolist() == pytest.approx([4 / 6, 2.0])
    logits = torch.tensor([[2.0, 0.0], [2.0, 0.0]])  # right on the frequent class, wrong on the rare one
    targets = torch.tensor([0, 1])
    plain = classification_loss(logits, targets, False, None)
    weighted = classification_loss(logits, targets, False, weights)
    assert weighted > plain  # the rare class's error now counts three times as much
    assert class_weights([[0, 1], [0]], 2, True).tolist() == [0.0, 1.0]


def test_readers(tmp_path):
    (tmp_path / "a.csv").write_text("label,text\npos,good film\nneg,bad film\n")
    (tmp_path / "a.tsv").write_text("label\ttext\npos\tgood film\n")
    (tmp_path / "a.jsonl").write_text('{"text": "good film", "label": "pos"}\n')
    (tmp_path / "a.ft").write_text("__label__pos __label__fun good film\n__label__neg bad\n")
    (tmp_path / "a.txt").write_text("pos good film\n\nneg bad film\n")
    assert [(e.text, e.labels) for e in read_examples(str(tmp_path / "a.csv"))] == [("good film", ["pos"]), ("bad film", ["neg"])]
    assert read_examples(str(tmp_path / "a.tsv"))[0].labels == ["pos"]
    assert read_examples(str(tmp_path / "a.jsonl"))[0].text == "good film"
    assert read_examples(str(tmp_path / "a.ft"))[0].labels == ["pos", "fun"]
    assert [e.where.rsplit(" ", 1)[-1] for e in read_examples(str(tmp_path / "a.txt"))] == ["1", "3"]
    import datasets

    datasets.Dataset.from_dict({"text": ["good film", "bad"], "label": ["pos", "neg"]}).save_to_disk(str(tmp_path / "saved"))
    assert [e.labels for e in read_examples(str(tmp_path / "saved"))] == [["pos"], ["neg"]]


def test_reader_errors_name_file_and_line(tmp_path):
    (tmp_path / "empty_text.csv").write_text("label,text\npos,good\nneg,\n")
    with pytest.raises(DataError, match=r"empty_text.csv, line 3: empty text"):
        read_examples(str(tmp_path / "empty_text.csv"))
    with pytest.raises(DataError, match="no column 'body'"):
        read_examples(str(tmp_path / "empty_text.csv"), text_column="body")
    (tmp_path / "bad.txt").write_bytes(b"pos caf\xe9\n")
    with pytest.raises(DataError, match="line 1: not valid UTF-8"):
        read_examples(str(tmp_path / "bad.txt"))


def test_unseen_label_at_evaluation(sentiment_dir, tmp_path):
    (tmp_path / "test.txt").write_text("1 fine\n7 what\n")
    with pytest.raises(DataError, match=r"test.txt, line 2: label '7' was not seen in training"):
        evaluate_classifier(seqtext.load(sentiment_dir), read_examples(str(tmp_path / "test.txt")))


def test_long_texts_truncated_with_count(sentiment_dir):
    model = seqtext.load(sentiment_dir)
    model.max_tokens = 5
    list(model.predict(["a b c d e f g", "short"]))
    assert model.truncated == 1


def test_cli_classify_and_evaluate(sentiment_dir, split_files):
    runner = CliRunner()
    result = runner.invoke(main, ["classify", "-m", str(sentiment_dir), "a gorgeous , witty , seductive movie ."])
    assert result.exit_code == 0 and result.stdout.strip() in ("positive", "negative")
    result = runner.invoke(main, ["classify", "-m", str(sentiment_dir), "-", "--format", "jsonl", "--probs"], input="great\nawful\n")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0 and [r["text"] for r in rows] == ["great", "awful"]
    assert sum(rows[0]["probs"].values()) == pytest.approx(1.0)
    result = runner.invoke(main, ["classify", "-m", str(sentiment_dir), "-", "--format", "csv", "--probs"], input="great\n")
    assert result.stdout.splitlines()[0] == "text,label,p_negative,p_positive"
    result = runner.invoke(main, ["classify", "-m", str(sentiment_dir), "fine", "--explain"])
    assert result.exit_code == 0 and "fine" in result.stdout
    result = runner.invoke(main, ["evaluate", str(sentiment_dir), str(split_files[1]), "--json"])
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and set(report["confusion"]) == {"negative", "positive"}
    result = runner.invoke(main, ["evaluate", str(sentiment_dir), str(split_files[1])])
    assert "macro_f1" in result.stdout and "confusion" in result.stdout


def test_cli_train_classifier_errors(tmp_path):
    runner = CliRunner()
    (tmp_path / "one.txt").write_text("pos good\npos fine\npos nice\n")
    result = runner.invoke(main, ["train", "classifier", str(tmp_path / "one.txt"), "--dev", str(tmp_path / "one.txt"), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "only one label" in result.stderr
    result = runner.invoke(main, ["train", "classifier", str(tmp_path / "one.txt"), "-o", str(tmp_path / "o"), "--label-names", "bad"])
    assert result.exit_code == 2
    result = runner.invoke(main, ["classify", "x", "-m", "no-such-model"])
    assert result.exit_code == 1 and result.stderr.startswith("Error: no model named")


def test_held_out_share_is_drawn_at_random_not_the_last_lines():
    """A file sorted by label must not hold out one class only; the draw is the same every time."""
    from seqtext.core.runs import dev_split

    items = [("pos", i) for i in range(500)] + [("neg", i) for i in range(500)]
    train, dev = dev_split(items, 0.1, "f", at_random=True)
    assert len(dev) == 100 and len(train) == 900
    assert 30 < sum(label == "pos" for label, _ in dev) < 70
    assert dev_split(items, 0.1, "f", at_random=True) == (train, dev)
    assert train == sorted(train, key=items.index) and set(train).isdisjoint(dev)
    assert dev_split(items, 0.1, "f")[1] == items[900:]  # taggers: the last sentences


def test_a_budget_too_short_for_the_network_returns_the_ngram_path(split_files, tmp_path):
    """#23 item 2: two steps of the network cannot beat the n-gram path, which trains in a second;
    the saved model is the path alone, says so, and its predictions never run the network."""
    train, dev = split_files
    out = tmp_path / "short"
    result = CliRunner().invoke(main, ["train", "classifier", str(train), "--dev", str(dev), "--format", "label-text", "-o", str(out),
                                       "--max-time", "1s", "--hidden", "32", "--embedding-dim", "32"])
    assert result.exit_code == 0, result.output
    assert "the model is the n-gram path alone" in result.output
    model = seqtext.load(str(out))
    assert json.loads((out / "metrics.json").read_text())["recurrent_weight"] == 0
    model.network.rnn.forward = lambda *args: pytest.fail("the network ran")
    texts = [line.split(" ", 1)[1] for line in Path(dev).read_text().splitlines()[:50]]
    accuracy = sum(p.label == line.split(" ", 1)[0] for p, line in zip(model.predict(texts), Path(dev).read_text().splitlines()))
    assert accuracy / len(texts) > 0.6  # the path alone beats chance
