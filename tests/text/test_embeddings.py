"""``seqtext train embeddings``: skip-gram vectors from the user's own text, written in the
word2vec text format that ``--embeddings`` reads."""

import random

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from seqtext.cli.main import main
from seqtext.errors import ConfigError, DataError
from seqtext.tagger.model import normalize_word
from seqtext.text.embeddings import EmbeddingOptions, _pairs, train_embeddings
from seqtext.text.vectors import read_vectors

ANIMALS = ["cat", "dog", "horse", "cow", "goat"]
METALS = ["iron", "copper", "zinc", "tin", "lead"]
FARM = ["farm", "fed", "barn", "field"]
MINE = ["mine", "smelted", "ore", "furnace"]
FAST = dict(dim=16, window=2, min_count=1, epochs=5, subsample=0.0)


@pytest.fixture(scope="module")
def two_class_corpus(tmp_path_factory):
    """Animals only ever appear among farm words, metals only among mine words: the one thing
    that tells the two classes apart is the company they keep."""
    rng = random.Random(0)
    farm, mine = ["the"] + FARM, ["the"] + MINE
    lines = []
    for _ in range(1500):
        for members, company in ((ANIMALS, farm), (METALS, mine)):
            lines.append(f"{rng.choice(company)} {rng.choice(members)} {rng.choice(company)}")
    rng.shuffle(lines)
    path = tmp_path_factory.mktemp("embeddings") / "corpus.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _cosine(vectors: dict, a: int, b: int) -> float:
    return float(torch.nn.functional.cosine_similarity(vectors[a], vectors[b], dim=0))


def test_words_of_one_class_end_up_closer(two_class_corpus, tmp_path):
    output = tmp_path / "vectors.txt"
    train_embeddings([two_class_corpus], output, EmbeddingOptions(**FAST, seed=1))
    vocabulary = {w: i for i, w in enumerate(ANIMALS + METALS)}
    vectors, dim = read_vectors(str(output), vocabulary)
    assert dim == 16 and len(vectors) == 10
    same = [_cosine(vectors, vocabulary[a], vocabulary[b]) for group in (ANIMALS, METALS) for a in group for b in group if a < b]
    across = [_cosine(vectors, vocabulary[a], vocabulary[b]) for a in ANIMALS for b in METALS]
    assert min(same) > max(across), (min(same), max(across))
    assert np.mean(same) - np.mean(across) > 0.5


def test_nearest_neighbours_come_from_the_same_world(two_class_corpus):
    result = train_embeddings([two_class_corpus], None, EmbeddingOptions(**FAST, seed=2))
    for group, other_world in ((ANIMALS, METALS + MINE), (METALS, ANIMALS + FARM)):
        for word in group:
            nearest = [w for w, _ in result.nearest(word, 5)]
            assert not set(nearest) & set(other_world), (word, nearest)


def test_file_format_count_and_dim_read_back(two_class_corpus, tmp_path):
    output = tmp_path / "vectors.txt"
    result = train_embeddings([two_class_corpus], output, EmbeddingOptions(**{**FAST, "dim": 7, "epochs": 1}))
    lines = output.read_text(encoding="utf-8").splitlines()
    words = {line.split(" ")[0] for line in lines[1:]}
    assert lines[0] == "19 7" and len(lines) == 20 and len(words) == len(result.words) == 19
    assert lines[1].split(" ")[0] == "the"  # most frequent first: read_vectors keeps the first of a word's forms
    vectors, dim = read_vectors(str(output), {w: i for i, w in enumerate(sorted(words))})
    assert dim == 7 and len(vectors) == 19
    for index, word in enumerate(result.words):  # the text holds the trained numbers
        assert torch.allclose(vectors[sorted(words).index(word)], result.vectors[index], rtol=1e-5, atol=1e-7)


def test_min_count_drops_rare_words_and_the_tagger_finds_the_rest(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("Paris is big. Paris is old in 1999.\nRome is old.\nOslo\n" * 3, encoding="utf-8")
    output = tmp_path / "vectors.txt"
    result = train_embeddings([corpus], output, EmbeddingOptions(min_count=4, dim=4, epochs=1, subsample=0.0))
    assert result.words == [".", "is", "Paris", "old"]  # most frequent first, then alphabetical
    tagger_vocabulary = {normalize_word(w): i for i, w in enumerate(["paris", "is", "old", "rome", "."])}
    vectors, _ = read_vectors(str(output), tagger_vocabulary, normalize_word)
    assert set(vectors) == {0, 1, 2, 4}


def test_word_split_and_lowercase(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("Don't stop, Stop.\n", encoding="utf-8")
    options = dict(min_count=1, dim=4, epochs=1, subsample=0.0)
    assert sorted(train_embeddings([corpus], None, EmbeddingOptions(**options)).words) == [",", ".", "Don't", "Stop", "stop"]
    assert sorted(train_embeddings([corpus], None, EmbeddingOptions(**options, lowercase=True)).words) == [",", ".", "don't", "stop"]
    whitespace = train_embeddings([corpus], None, EmbeddingOptions(**options, word_split="whitespace"))
    assert sorted(whitespace.words) == ["Don't", "Stop.", "stop,"]


def test_windows_stop_at_line_breaks():
    ids = np.array([0, 1, 2, 3, 4, 5], dtype=np.int32)
    lines = np.array([0, 0, 0, 1, 1, 1])
    words, contexts = _pairs(ids, lines, 5, np.random.default_rng(0))
    pairs = set(zip(words.tolist(), contexts.tolist()))
    assert pairs and all((a < 3) == (b < 3) for a, b in pairs)
    assert {(0, 1), (1, 0), (4, 5)} <= pairs  # neighbours are always inside the window


def test_same_seed_same_file_other_seed_other_file(two_class_corpus, tmp_path):  # one thread (conftest)
    paths = [tmp_path / f"v{i}.txt" for i in range(3)]
    for path, seed in zip(paths, (5, 5, 6)):
        train_embeddings([two_class_corpus], path, EmbeddingOptions(**{**FAST, "epochs": 1}, seed=seed))
    assert paths[0].read_bytes() == paths[1].read_bytes() != paths[2].read_bytes()


def test_command_writes_vectors_and_reports(two_class_corpus, tmp_path):
    output = tmp_path / "vectors.txt"
    result = CliRunner().invoke(main, ["train", "embeddings", str(two_class_corpus), "-o", str(output), "--min-count", "1",
                                       "--dim", "8", "--epochs", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"saved 19 vectors of 8 dimensions to {output}"
    assert output.read_text(encoding="utf-8").startswith("19 8\n")


@pytest.mark.parametrize("case, message", [
    ("missing", "missing.txt: no such file"),
    ("empty", "empty.txt: file is empty"),
    ("rare", "no word occurs 5 times or more in"),
    ("no-directory", "the directory"),
])
def test_bad_input_is_one_error_line_and_leaves_the_old_file(tmp_path, case, message):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "rare.txt").write_text("each word once\n", encoding="utf-8")
    (tmp_path / "ok.txt").write_text("a b a b a b a b a b\n", encoding="utf-8")
    source = {"missing": "missing.txt", "empty": "empty.txt", "rare": "rare.txt", "no-directory": "ok.txt"}[case]
    output = tmp_path / ("nowhere/vectors.txt" if case == "no-directory" else "vectors.txt")
    if case != "no-directory":
        output.write_text("old\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["train", "embeddings", str(tmp_path / source), "-o", str(output), "--quiet"])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    if case != "no-directory":
        assert output.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left behind


def test_options_that_no_run_can_use_are_refused():
    with pytest.raises(ConfigError, match="dim must be 2 or more"):
        EmbeddingOptions(dim=1)  # "word x" lines would read as no vector at all
    with pytest.raises(ConfigError, match="subsample"):
        EmbeddingOptions(subsample=1.5)
    with pytest.raises(DataError, match="no files given"):
        train_embeddings([], None)
