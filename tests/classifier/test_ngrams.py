"""The classifier's linear path over unigrams and hashed bigrams (seqtext.classifier.ngrams): fixed features,
counted once per text, NB-weighted logistic regression fitted exactly (with the words' spellings
folded into the unigram weights), exact save and load, older models without it, and that it learns
what only a bigram says."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import seqtext
from seqtext.classifier.model import RecurrentClassifier
from seqtext.classifier.ngrams import (
    NgramLinear,
    bigram_buckets,
    default_buckets,
    distinct_features,
    ngram_features,
)
from seqtext.classifier.training import ClassifierDataOptions, train_classifier
from seqtext.configs import ClassifierConfig
from seqtext.core.trainer import TrainConfig
from seqtext.text.tokenizers import pad_batch

# What only a bigram decides: "good", "bad", "very" and "not" each come with both labels equally
# often, so no weighting of single words separates them; "not good", "very bad", ... do.
PHRASES = {"very good": "pos", "not bad": "pos", "very bad": "neg", "not good": "neg"}
TRAIN_FRAMES = ["the film was {}", "{} , i thought", "acting {} and plot {}", "honestly {} .", "{} overall",
                "a {} story", "music was {}", "it looks {} to me"]
DEV_FRAMES = ["the cast is {}", "{} , said my friend", "ending {} ."]


def _write(path, frames):
    lines = ["label\ttext"] + [f"{label}\t{frame.format(*[phrase] * frame.count('{}'))}"
                               for frame in frames for phrase, label in PHRASES.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bigram_model(tmp_path_factory):
    """A default classifier (small network) trained a few seconds on the phrases above."""
    folder = tmp_path_factory.mktemp("bigram")
    train, dev = _write(folder / "train.tsv", TRAIN_FRAMES * 4), _write(folder / "dev.tsv", DEV_FRAMES)
    model = train_classifier(str(train), str(dev), folder / "model", ClassifierConfig(0, 0, embedding_dim=16, hidden_size=16,
                                                                                     mlp_hidden=16),
                             ClassifierDataOptions(batch_size=8), TrainConfig(epochs=30, lr=1e-2, progress=False))
    return folder / "model", model


def test_bigram_buckets_are_fixed_numbers():
    """The same pairs give the same buckets in another process with another hash seed: the hash
    is arithmetic on the ids, never Python's salted hash()."""
    first, second = torch.tensor([0, 5, 49_999, 2**31 - 1]), torch.tensor([7, 5, 3, 2**31 - 1])
    here = bigram_buckets(first, second, 2**18).tolist()
    assert here == [(7 * 998_244_353 % 2_147_483_647) % 2**18, (5 * 1_000_000_007 + 5 * 998_244_353) % 2_147_483_647 % 2**18,
                    (49_999 * 1_000_000_007 + 3 * 998_244_353) % 2_147_483_647 % 2**18,
                    ((2**31 - 1) * (1_000_000_007 + 998_244_353)) % 2_147_483_647 % 2**18]
    code = ("import torch; from seqtext.classifier.ngrams import bigram_buckets; "
            "print(bigram_buckets(torch.tensor([0, 5, 49999, 2**31 - 1]), torch.tensor([7, 5, 3, 2**31 - 1]), 2**18).tolist())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert json.loads(other.stdout) == here


def test_features_cover_real_tokens_only():
    ids, lengths = pad_batch([[5, 6, 7], [8], []])
    features, mask = ngram_features(ids, lengths, vocab_size=10, buckets=16)
    assert features.shape == mask.shape == (3, 5)  # 3 unigrams + 2 bigrams per row
    assert mask.sum(1).tolist() == [5, 1, 1]  # an empty text is one <pad>
    assert features[0, :3].tolist() == [5, 6, 7] and all(10 <= f < 26 for f in features[0, 3:].tolist())
    assert features[0, 3] == 10 + bigram_buckets(torch.tensor(5), torch.tensor(6), 16)


def test_features_count_once_per_text():
    """Binary features: a word or bigram said three times counts as much as once."""
    features, present = distinct_features(*pad_batch([[5, 5, 5], [6, 7]]), vocab_size=10, buckets=16)
    chosen = [sorted(features[row][present[row]].tolist()) for row in range(2)]
    pair = 10 + bigram_buckets(torch.tensor(5), torch.tensor(5), 16).item()
    assert chosen[0] == [5, pair]
    assert chosen[1] == sorted([6, 7, 10 + bigram_buckets(torch.tensor(6), torch.tensor(7), 16).item()])


def test_fit_is_nb_weighted_logistic_regression():
    """The path's scores are scikit-learn's logistic regression on NB-scaled binary features,
    exactly; a word only one class uses pushes towards it."""
    from sklearn.linear_model import LogisticRegression

    texts = [[1, 2], [1, 3], [4, 2], [4, 4, 3], [1], [4]]
    labels = [[1], [1], [0], [0], [1], [0]]
    layer = NgramLinear(vocab_size=6, buckets=16, num_classes=2)
    layer.fit(texts, labels)
    matrix = layer.feature_matrix(texts)
    target = [label[0] == 1 for label in labels]
    p = matrix[target].sum(0).A1 + 1
    q = matrix[[not t for t in target]].sum(0).A1 + 1
    ratio = torch.tensor(p / p.sum()).log() - torch.tensor(q / q.sum()).log()
    reference = LogisticRegression(C=1.0, max_iter=1000).fit(matrix.multiply(ratio.numpy()).tocsr(), target)
    expected = reference.decision_function(matrix.multiply(ratio.numpy()).tocsr())
    scores = layer(*pad_batch(texts))
    assert torch.allclose(scores[:, 1] - scores[:, 0], torch.tensor(expected, dtype=scores.dtype), atol=1e-5)
    assert layer.weight[1, 1] > 0 > layer.weight[4, 1]


SPELLED = ["<pad>", "<unk>", "<bos>", "<eos>", "a", "wonderful", "awful", "film", "wonderfully", "awfully", "so-so"]


def _grams(word: str) -> set[str]:
    """The spelling n-grams of one word, written out independently of seqtext: 2 to 5 characters
    of the word framed by spaces."""
    framed = f" {word} "
    return {framed[i : i + n] for n in range(2, 6) for i in range(len(framed) - n + 1)}


def _reference_scores(texts, labels, classes, balanced):
    """One-against-the-rest logistic regression (two classes: one model) on NB-scaled binary
    unigram and bigram features and per-text counts of the distinct words' spelling n-grams,
    built by hand (bigrams by the same fixed hash); the decision function per class."""
    from sklearn.linear_model import LogisticRegression

    from seqtext.classifier import ngrams

    grams = sorted({g for w in SPELLED[4:] for g in _grams(w)})
    rows = []
    for ids in texts:
        features = set(ids) | {len(SPELLED) + int(bigram_buckets(torch.tensor(x), torch.tensor(y), 16))
                               for x, y in zip(ids, ids[1:])}
        row = np.zeros(len(SPELLED) + 16 + len(grams))
        row[sorted(features)] = 1
        for i in set(ids):
            for g in _grams(SPELLED[i]) if i >= 4 else ():
                row[len(SPELLED) + 16 + grams.index(g)] += 1
        rows.append(row)
    matrix = np.array(rows)
    scores = np.zeros((len(texts), classes))
    for c in [1] if classes == 2 else range(classes):
        target = np.array([c in label for label in labels])
        ratio = np.zeros(matrix.shape[1])
        for block in (slice(0, len(SPELLED) + 16), slice(len(SPELLED) + 16, None)):
            p = matrix[target][:, block].sum(0) + 1
            q = matrix[~target][:, block].sum(0) + 1
            ratio[block] = np.log(p / p.sum()) - np.log(q / q.sum())
        model = LogisticRegression(C=ngrams.L2_C, max_iter=1000, class_weight="balanced" if balanced else None)
        scores[:, c] = model.fit(matrix * ratio, target).decision_function(matrix * ratio)
    return scores


@pytest.mark.parametrize("classes,balanced", [(2, False), (3, True)])
def test_spellings_fold_into_the_unigram_weights_exactly(classes, balanced):
    """With the vocabulary's words, the path is logistic regression on the n-gram features and
    each text's distinct words' character n-grams, both NB-scaled; after the fit the spelling
    weights live in the unigram rows, and the path's scores are that model's, exactly."""
    texts = [[4, 5, 7], [5, 7], [4, 6, 7], [6, 7, 7], [5], [6], [10, 7], [10, 4, 10], [10]]
    labels = [[1], [1], [0], [0], [1], [0]] + [[2 if classes == 3 else 0]] * 3
    layer = NgramLinear(vocab_size=len(SPELLED), buckets=16, num_classes=classes)
    layer.fit(texts, labels, balanced=balanced, words=SPELLED)
    scores = layer(*pad_batch(texts)).double()
    expected = torch.tensor(_reference_scores(texts, labels, classes, balanced))
    if classes == 2:
        scores, expected = scores[:, 1] - scores[:, 0], expected[:, 1]
    assert torch.allclose(scores, expected, atol=1e-5)
    # " wonderf" and "fully " in its spelling: a word no training text holds leans the way its kin do,
    # where the words alone say nothing of it.
    assert layer.weight[8, 1] > 0 > layer.weight[9, 1]
    words_only = NgramLinear(vocab_size=len(SPELLED), buckets=16, num_classes=classes)
    words_only.fit(texts, labels)
    assert words_only.weight[8, 1] == 0 and words_only.weight[9, 1] == 0


def test_spelling_ngrams_frame_each_word():
    from seqtext.classifier.ngrams import spelling_matrix

    words = ["<pad>", "<unk>", "<bos>", "<eos>", "ab", "cloudy"]
    matrix = spelling_matrix(words, 7)
    assert matrix.shape[0] == 7 and matrix[:4].nnz == 0 and matrix[6].nnz == 0
    assert matrix[4].nnz == len(_grams("ab")) == 6
    assert matrix[5].nnz == len(_grams("cloudy"))  # 5-grams " clou" ... "oudy ", and no 6-gram
    assert (matrix[4].multiply(matrix[5])).nnz == 0  # "ab" and "cloudy" share no n-gram


def test_training_gives_a_word_its_kins_weight(tmp_path):
    """A word as often in one class as in the other says nothing by itself; its spelling does, and
    the trainer's path (fitted again on all texts at the end) gives it the weight of its kin."""
    import random

    rng = random.Random(0)
    stems = {"pos": ["brilliant", "delight", "charm"], "neg": ["tedious", "clumsi", "dread"]}
    lines = ["label\ttext"]
    for i in range(240):
        label = "pos" if i % 2 else "neg"
        lines.append(f"{label}\t{rng.choice(['the film', 'this one', 'it'])} was {rng.choice(stems[label])}{rng.choice(['', 'ful', 'ness', 'ly'])}")
    lines += ["pos\tthe film was charmingly", "neg\tthe film was charmingly"]  # no side by itself
    (tmp_path / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = train_classifier(str(tmp_path / "train.tsv"), None, tmp_path / "model",
                             ClassifierConfig(0, 0, embedding_dim=8, hidden_size=8, mlp_hidden=8),
                             ClassifierDataOptions(batch_size=16), TrainConfig(epochs=1, progress=False))
    layer, stoi = model.network.ngrams, model.tokenizer.stoi
    weight = layer.weight[stoi["charmingly"]]
    assert weight[model.labels.index("pos")] - weight[model.labels.index("neg")] > 0.5


@pytest.mark.slow
def test_tempering_the_path_is_not_a_reason_to_count_the_network(bigram_model):
    """A network whose logits are the path's, scaled down and negated, lowers the held-out
    cross-entropy of an over-confident path only by tempering it; the path at a lower weight does
    that alone, so the network gets weight 0 (measured against the path at weight 1 it would win)."""
    from seqtext.classifier import ngrams
    from seqtext.classifier.data import Example

    directory, model = bigram_model
    texts = [frame.format(*[phrase] * frame.count("{}")) for frame in DEV_FRAMES + TRAIN_FRAMES for phrase in PHRASES]
    gold = [label for _ in DEV_FRAMES + TRAIN_FRAMES for label in PHRASES.values()]
    gold = [("neg" if label == "pos" else "pos") if i % 5 == 0 else label for i, label in enumerate(gold)]  # a fifth wrong
    network, layer = model.network, model.network.ngrams
    saved = layer.recurrent_weight.clone(), layer.ngram_weight.clone()
    original = network.scores

    def tempering(ids, lengths):
        _, path = original(ids, lengths)
        return -5.0 * path, 10.0 * path  # an over-confident path, and a "network" that only tempers it

    network.scores = tempering
    try:
        chosen = ngrams.choose_recurrent_weight(model, [Example(t, [g], "test") for t, g in zip(texts, gold)])
    finally:
        del network.scores
        layer.recurrent_weight.copy_(saved[0])
        layer.ngram_weight.copy_(saved[1])
    assert chosen["recurrent_weight"] == 0.0 and chosen["ngram_weight"] < 1.0


def test_buckets_shrink_with_many_classes():
    assert default_buckets(2) == 2**18 and default_buckets(5) * 5 <= 2**19 and default_buckets(1000) == 2**14


def test_learns_what_only_a_bigram_says(bigram_model):
    directory, model = bigram_model
    assert model.network.config.ngram_buckets == default_buckets(2)
    texts = [frame.format(*[phrase] * frame.count("{}")) for frame in DEV_FRAMES for phrase in PHRASES]
    gold = [label for _ in DEV_FRAMES for label in PHRASES.values()]
    assert [c.label for c in model.predict(texts)] == gold
    # The linear path has learnt the bigrams themselves: "not good" speaks for neg, "not bad" for pos.
    layer, stoi = model.network.ngrams, model.tokenizer.stoi
    for second, label in (("good", "neg"), ("bad", "pos")):
        bucket = bigram_buckets(torch.tensor(stoi["not"]), torch.tensor(stoi[second]), layer.buckets)
        weights = layer.weight[layer.vocab_size + bucket].tolist()
        other = 1 - model.labels.index(label)
        assert weights[model.labels.index(label)] > weights[other], (second, weights)


def test_saves_and_loads_exactly(bigram_model, tmp_path):
    directory, model = bigram_model
    texts = ["the film was not good", "not bad , i thought", "", "good good good not"]
    loaded = seqtext.load(directory)
    assert torch.equal(loaded.network.ngrams.weight, model.network.ngrams.weight)
    assert torch.equal(loaded.probabilities(texts), model.probabilities(texts))
    again = seqtext.load(loaded.save(tmp_path / "again"))
    assert torch.equal(again.probabilities(texts), model.probabilities(texts))


def test_models_saved_before_the_field_load_without_it(tmp_path):
    """A config.json without model.ngram_buckets (every model saved before it existed) loads
    without the path and computes what it did."""
    shipped = seqtext.load("sentiment")  # for its tokenizer and labels
    network = RecurrentClassifier(ClassifierConfig(vocab_size=shipped.tokenizer.vocab_size, num_classes=2, embedding_dim=8,
                                                   hidden_size=8, mlp_hidden=8, ngram_buckets=0))
    old = type(shipped)(network, shipped.tokenizer, shipped.labels)
    old.save(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    del config["model"]["ngram_buckets"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    texts = ["a gorgeous, witty, seductive movie.", "dull"]
    loaded = seqtext.load(tmp_path / "old")
    assert loaded.network.ngrams is None
    assert torch.equal(loaded.probabilities(texts), old.probabilities(texts))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_carries_the_path(bigram_model, tmp_path, fmt):
    """The exported graph computes the n-gram features from the ids itself; export checks its
    file against seqtext's own scores (texts of several lengths, an empty one) before reporting."""
    from seqtext.export.writer import export

    directory, model = bigram_model
    report = export(model, tmp_path / f"model.{'pt' if fmt == 'torchscript' else 'onnx'}", fmt)
    assert report.max_abs_diff <= 1e-4


def test_the_path_is_fitted_again_on_every_training_text(tmp_path):
    """Without --dev, the held-out share chooses the epoch and the network's weight, and the
    saved path is then fitted on all training texts, held-out ones included."""
    train = _write(tmp_path / "train.tsv", TRAIN_FRAMES * 4)
    model = train_classifier(str(train), None, tmp_path / "model", ClassifierConfig(0, 0, embedding_dim=8, hidden_size=8, mlp_hidden=8),
                             ClassifierDataOptions(batch_size=8), TrainConfig(epochs=2, progress=False))
    assert model.metrics["ngram_path_fitted_on"] == len(TRAIN_FRAMES) * 4 * len(PHRASES)
    assert json.loads((tmp_path / "model" / "metrics.json").read_text())["ngram_path_fitted_on"] == model.metrics["ngram_path_fitted_on"]


def test_the_network_counts_only_when_it_clearly_helps(bigram_model, tmp_path):
    """choose_recurrent_weight: with the n-gram path silenced the trained network is clearly
    better than nothing and gets a weight; silenced itself, it gets none."""
    from seqtext.classifier.data import read_examples
    from seqtext.classifier.ngrams import choose_recurrent_weight

    directory, _ = bigram_model
    examples = read_examples([str(_write(tmp_path / "held.tsv", TRAIN_FRAMES))])
    model = seqtext.load(directory)
    model.network.ngrams.weight.zero_()
    model.network.ngrams.bias.zero_()
    assert choose_recurrent_weight(model, examples)["recurrent_weight"] > 0
    model = seqtext.load(directory)
    torch.nn.init.zeros_(model.network.head[-1].weight)
    torch.nn.init.zeros_(model.network.head[-1].bias)
    chosen = choose_recurrent_weight(model, examples)
    assert chosen["recurrent_weight"] == 0 and float(model.network.ngrams.recurrent_weight) == 0


def test_a_confidently_wrong_path_is_scaled_down_beside_a_right_network(bigram_model, tmp_path):
    """Fitted on other text, the path can be sure and wrong; the chooser then turns it down (to
    nothing, here) instead of keeping it at full strength beside the network."""
    from seqtext.classifier.data import read_examples
    from seqtext.classifier.ngrams import choose_recurrent_weight

    directory, _ = bigram_model
    examples = read_examples([str(_write(tmp_path / "held.tsv", TRAIN_FRAMES))])
    model = seqtext.load(directory)
    model.network.ngrams.weight.mul_(-5.0)  # every class score reversed, and confident
    model.network.ngrams.bias.mul_(-5.0)
    chosen = choose_recurrent_weight(model, examples)
    assert chosen["recurrent_weight"] > 0 and chosen["ngram_weight"] < 1
    assert float(model.network.ngrams.ngram_weight) == chosen["ngram_weight"]


def test_a_model_saved_before_the_path_weight_loads_with_weight_one(bigram_model, tmp_path):
    """Models saved before ``ngram_weight`` existed meant the path at full strength."""
    import shutil

    from safetensors.torch import load_file, save_file

    directory, _ = bigram_model
    old = tmp_path / "old"
    shutil.copytree(directory, old)
    state = load_file(str(old / "model.safetensors"))
    del state["ngrams.ngram_weight"]
    save_file(state, str(old / "model.safetensors"))
    loaded = seqtext.load(old)
    assert float(loaded.network.ngrams.ngram_weight) == 1.0
    texts = ["a fine film", "a dull film"]
    original = seqtext.load(directory)
    original.network.ngrams.ngram_weight.fill_(1.0)
    assert torch.allclose(loaded.probabilities(texts), original.probabilities(texts))


def test_a_part_at_weight_zero_is_not_computed(bigram_model, monkeypatch):
    """The chooser often keeps the path alone on a small corpus; the network is then skipped
    (and the path when it is the one at 0), with the scores ``combine`` gives."""
    directory, _ = bigram_model
    model = seqtext.load(directory)
    network = model.network
    ids, lengths = torch.tensor([model.encode("a fine film"), model.encode("a dull film")]), torch.tensor([3, 3])
    for recurrent_weight, ngram_weight, skipped in ((0.0, 0.5, network), (0.7, 0.0, network.ngrams)):
        network.ngrams.recurrent_weight.fill_(recurrent_weight)
        network.ngrams.ngram_weight.fill_(ngram_weight)
        with torch.no_grad():
            expected = network.ngrams.combine(network.recurrent_logits(ids, lengths), network.ngrams(ids, lengths))

            def refuse(*args):
                raise AssertionError("a part at weight 0 was computed")

            with monkeypatch.context() as patch:
                patch.setattr(skipped, "recurrent_logits" if skipped is network else "forward", refuse)
                assert torch.allclose(network(ids, lengths), expected, atol=1e-6)
