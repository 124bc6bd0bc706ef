"""Tag schemes, readers, the CRF against brute force, the raw-text tokenizer, and a tagger
trained for seconds on real sentences."""

import itertools
import json
import math

import pytest
import torch
from click.testing import CliRunner

import seqtext
from seqtext.cli.main import main
from seqtext.core.trainer import TrainConfig
from seqtext.errors import DataError
from seqtext.tagger.conll import read_sentences
from seqtext.tagger.crf import CRF
from seqtext.tagger.model import TaggerConfig
from seqtext.tagger.schemes import convert, detect_scheme, from_spans, to_spans
from seqtext.tagger.scoring import evaluate_tagger
from seqtext.tagger.training import TaggerDataOptions, train_tagger
from seqtext.text.split import split_sentences, tokenize

IOB1 = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "O", "I-ORG"]
BIO = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "O", "B-ORG"]
BIOES = ["B-PER", "E-PER", "O", "S-LOC", "S-LOC", "O", "S-ORG"]
SPANS = [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5), ("ORG", 6, 7)]


def test_scheme_conversions_are_exact():
    for tags, scheme in ((IOB1, "iob1"), (BIO, "bio"), (BIOES, "bioes")):
        assert to_spans(tags, scheme) == SPANS
        assert from_spans(SPANS, len(tags), scheme) == tags
        for target, expected in (("iob1", IOB1), ("bio", BIO), ("bioes", BIOES)):
            assert convert(tags, scheme, target) == expected
    assert detect_scheme([IOB1]) == "iob1" and detect_scheme([BIO]) == "bio" and detect_scheme([BIOES]) == "bioes"
    assert detect_scheme([["NOUN", "VERB"]]) == "none"


def test_invalid_transitions_are_repaired():
    assert to_spans(["O", "I-PER", "I-PER", "B-LOC", "I-ORG"], "bio") == [("PER", 1, 3), ("LOC", 3, 4), ("ORG", 4, 5)]
    assert to_spans(["E-PER", "O", "B-LOC", "I-LOC"], "bioes") == [("PER", 0, 1), ("LOC", 2, 4)]


def test_crf_log_partition_and_viterbi_match_brute_force():
    torch.manual_seed(0)
    crf = CRF(3)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    emissions = torch.randn(2, 4, 3)
    mask = torch.tensor([[True] * 4, [True, True, True, False]])
    log_z = crf.log_partition(emissions, mask)
    best = crf.decode(emissions, mask)
    for b, length in enumerate((4, 3)):
        scores = {}
        for path in itertools.product(range(3), repeat=length):
            tags = torch.tensor([list(path) + [0] * (4 - length)])
            scores[path] = crf.sequence_score(emissions[b : b + 1], tags, mask[b : b + 1]).item()
        assert log_z[b].item() == pytest.approx(math.log(sum(math.exp(s) for s in scores.values())), abs=1e-4)
        assert tuple(best[b, :length].tolist()) == max(scores, key=scores.get)


def test_raw_text_tokenizer():
    assert tokenize("I don't think the U.S. grew 3.5% in 2019, Mr. Smith said.") == [
        "I", "do", "n't", "think", "the", "U.S.", "grew", "3.5%", "in", "2019", ",", "Mr.", "Smith", "said", "."]
    assert tokenize("Mail john.doe@example.com or see https://example.org/a?b=1.") == [
        "Mail", "john.doe@example.com", "or", "see", "https://example.org/a?b=1", "."]
    assert tokenize("She's here; they're not.") == ["She", "'s", "here", ";", "they", "'re", "not", "."]
    assert split_sentences("Dr. Who met J. Smith. The end! Really?") == ["Dr. Who met J. Smith.", "The end!", "Really?"]


def test_readers(tmp_path):
    (tmp_path / "a.conll").write_text("-DOCSTART- -X- O\n\nEU NNP B-ORG\nrejects VBZ O\n\nPeter NNP B-PER\n")
    sentences = read_sentences(str(tmp_path / "a.conll"))
    assert [(s.tokens, s.tags) for s in sentences] == [(["EU", "rejects"], ["B-ORG", "O"]), (["Peter"], ["B-PER"])]
    assert read_sentences(str(tmp_path / "a.conll"), tag_column="1")[0].tags == ["NNP", "VBZ"]
    (tmp_path / "a.conllu").write_text(
        "# sent_id = 1\n1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n1\tdo\tdo\tAUX\tVBP\t_\t_\t_\t_\t_\n"
        "2\tn't\tnot\tPART\tRB\t_\t_\t_\t_\t_\n2.1\tx\tx\tX\tX\t_\t_\t_\t_\t_\n\n")
    sentence = read_sentences(str(tmp_path / "a.conllu"))[0]
    assert sentence.tokens == ["do", "n't"] and sentence.tags == ["AUX", "PART"]
    assert read_sentences(str(tmp_path / "a.conllu"), tag_column="xpos")[0].tags == ["VBP", "RB"]
    (tmp_path / "a.jsonl").write_text(json.dumps({"tokens": ["a", "b"], "tags": ["X", "Y"]}) + "\n")
    assert read_sentences(str(tmp_path / "a.jsonl"))[0].tags == ["X", "Y"]


def test_conll_writer_round_trips(tmp_path):
    from seqtext.tagger.conll import Sentence, format_conll

    sentences = [Sentence(["EU", "rejects", "it"], ["B-ORG", "O", "O"]), Sentence(["Peter"], ["B-PER"])]
    (tmp_path / "out.conll").write_text("".join(format_conll(s) for s in sentences))
    again = read_sentences(str(tmp_path / "out.conll"))
    assert [(s.tokens, s.tags) for s in again] == [(s.tokens, s.tags) for s in sentences]


def test_malformed_files_name_the_line(tmp_path):
    (tmp_path / "bad.conll").write_text("EU B-ORG\nrejects\n")
    with pytest.raises(DataError, match=r"bad.conll, line 2: 1 column"):
        read_sentences(str(tmp_path / "bad.conll"), tag_column="1")
    (tmp_path / "bad.conllu").write_text("1\tdo\tdo\n")
    with pytest.raises(DataError, match=r"bad.conllu, line 1: CoNLL-U needs 10"):
        read_sentences(str(tmp_path / "bad.conllu"))
    (tmp_path / "empty.conll").write_text("\n\n")
    with pytest.raises(DataError, match="empty"):
        read_sentences(str(tmp_path / "empty.conll"))
    (tmp_path / "bad.jsonl").write_text('{"tokens": ["a"], "tags": []}\n')
    with pytest.raises(DataError, match="line 1: 1 tokens but 0 tags"):
        read_sentences(str(tmp_path / "bad.jsonl"))


@pytest.fixture(scope="module")
def ner_files(tmp_path_factory, shared_data):
    """600 training and 300 dev sentences of CoNLL-2003 (CoNLL++)."""
    folder = tmp_path_factory.mktemp("ner")
    for name, count in (("train", 600), ("dev", 300)):
        blocks = (shared_data / "conllpp" / f"{name}.txt").read_text(encoding="utf-8").split("\n\n")
        (folder / f"{name}.txt").write_text("\n\n".join(blocks[1 : count + 1]) + "\n", encoding="utf-8")
    return folder / "train.txt", folder / "dev.txt"


@pytest.fixture(scope="module")
def ner_dir(ner_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("tagger") / "ner"
    train_tagger(
        str(ner_files[0]), str(ner_files[1]), out,
        TaggerConfig(0, 0, 0, word_dim=50, hidden_size=64, char_hidden=25),
        TaggerDataOptions(batch_size=16),
        TrainConfig(epochs=5, max_steps=150, lr=5e-3, warmup_steps=10, eval_every=75, progress=False),
    )
    return out


@pytest.mark.slow
def test_tagger_beats_majority_tag(ner_dir, ner_files):
    tagger = seqtext.load(ner_dir)
    gold = read_sentences(str(ner_files[1]))
    majority = sum(t == "O" for s in gold for t in s.tags) / sum(len(s.tags) for s in gold)
    report = evaluate_tagger(tagger, gold)
    assert report["accuracy"] > majority + 0.02, (report["accuracy"], majority)
    assert report["f1"] > 0.3, report["f1"]  # the majority tag finds no entity at all
    assert set(report["per_type"]) <= {"PER", "LOC", "ORG", "MISC"}


def test_tagger_save_load_same_predictions(ner_dir, tmp_path):
    tagger = seqtext.load(ner_dir)
    sentences = [["Peter", "Blackburn", "went", "to", "Germany", "."], ["EU", "rejects", "German", "call"]]
    tagger.save(tmp_path / "copy")
    assert seqtext.load(tmp_path / "copy").tag(sentences) == tagger.tag(sentences)
    assert all(len(t) == len(s) for t, s in zip(tagger.tag(sentences), sentences))


@pytest.mark.slow
@pytest.mark.parametrize("options", [{"decoder": "softmax"}, {"char_encoder": "cnn"}])
def test_variants_train(options, ner_files, tmp_path):
    tagger = train_tagger(
        str(ner_files[0]), str(ner_files[1]), tmp_path / "variant",
        TaggerConfig(0, 0, 0, word_dim=50, hidden_size=64, char_hidden=25, **options),
        TaggerDataOptions(batch_size=16),
        TrainConfig(epochs=5, max_steps=150, lr=5e-3, warmup_steps=10, eval_every=75, progress=False),
    )
    assert (tagger.network.crf is None) == (options.get("decoder") == "softmax")
    assert (tagger.network.chars.kind == "cnn") == (options.get("char_encoder") == "cnn")
    gold = read_sentences(str(ner_files[1]))
    majority = sum(t == "O" for s in gold for t in s.tags) / sum(len(s.tags) for s in gold)
    assert tagger.metrics["accuracy"] > majority, (tagger.metrics, majority)  # it found some entities


def test_pos_tagger_and_pretrained_vectors(tmp_path, shared_data):
    blocks = (shared_data / "ud_ewt" / "en_ewt-ud-train.conllu").read_text(encoding="utf-8").split("\n\n")
    (tmp_path / "train.conllu").write_text("\n\n".join(blocks[:300]) + "\n", encoding="utf-8")
    (tmp_path / "vectors.txt").write_text("2 4\nthe 0.1 0.2 0.3 0.4\nof 1 1 1 1\n")
    tagger = train_tagger(
        str(tmp_path / "train.conllu"), None, tmp_path / "pos",
        TaggerConfig(0, 0, 0, hidden_size=32, char_hidden=16),
        TaggerDataOptions(batch_size=16, embeddings=str(tmp_path / "vectors.txt")),
        TrainConfig(epochs=1, max_steps=10, warmup_steps=3, progress=False),
    )
    assert tagger.network.config.word_dim == 4 and not tagger.spans
    report = evaluate_tagger(tagger, read_sentences(str(tmp_path / "train.conllu"))[:20])
    assert "top_confusions" in report
    assert sum(sum(row.values()) for row in report["confusion"].values()) == report["tokens"]


def test_cli_tag_formats(ner_dir, tmp_path):
    runner = CliRunner()
    text = "Peter Blackburn went to Germany. He met the EU there."
    result = runner.invoke(main, ["tag", text, "-m", str(ner_dir)])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2
    result = runner.invoke(main, ["tag", "-", "-m", str(ner_dir), "--format", "jsonl"], input=text + "\n")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 1 and rows[0]["text"] == text and rows[0]["tokens"][-1]["text"] == "."
    assert {"text", "tokens", "spans", "sentences"} <= set(rows[0]) and len(rows[0]["sentences"]) == 2
    result = runner.invoke(main, ["tag", "-m", str(ner_dir), "--input-format", "tokens", "--format", "conll", "--tag-scheme", "bioes"], input="Peter Blackburn\n")
    assert result.exit_code == 0 and result.stdout.count("\t") == 2
    result = runner.invoke(main, ["tag", text, "-m", str(ner_dir), "--format", "html"])
    assert result.stdout.startswith("<!DOCTYPE html>") and result.stdout.rstrip().endswith("</html>")
    # Tokens are text, never markup: inside and outside entity marks alike.
    hostile = "<script>alert(1)</script> Peter Blackburn of a&b met <b>Germany</b>\n"
    result = runner.invoke(main, ["tag", "-", "-m", str(ner_dir), "--input-format", "tokens", "--format", "html"], input=hostile)
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "a&amp;b" in page and "&lt;b&gt;Germany&lt;/b&gt;" in page
    assert "<script" not in page and "a&b" not in page and "<b>" not in page
    assert page.count("<p>") == 1 and page.count("<mark") == page.count("</mark>")


def test_cli_train_and_evaluate_tagger(ner_files, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli-tagger"
    result = runner.invoke(main, ["train", "tagger", str(ner_files[0]), "--dev", str(ner_files[1]), "-o", str(out),
                                  "--hidden", "16", "--word-dim", "16", "--char-hidden", "8", "--max-steps", "5", "--quiet"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["evaluate", str(out), str(ner_files[1]), "--json"])
    assert result.exit_code == 0 and {"precision", "recall", "f1", "accuracy"} <= set(json.loads(result.stdout))
    (tmp_path / "bad.conll").write_text("EU\n")
    result = runner.invoke(main, ["train", "tagger", str(tmp_path / "bad.conll"), "--tag-column", "3", "-o", str(tmp_path / "x")])
    assert result.exit_code == 1 and "bad.conll, line 1" in result.stderr


def test_raw_input_is_read_lazily_in_bounded_pieces():
    from seqtext.tagger.conll import MAX_PARAGRAPH, iter_token_lists

    read = 0

    def lines():
        nonlocal read
        for _ in range(100_000):
            read += 1
            yield "Peter went home.\n"

    sentences = iter_token_lists(lines(), "text")
    assert next(sentences) == ["Peter", "went", "home", "."]
    assert read <= MAX_PARAGRAPH + 1  # constant memory: no need to read the whole input first
    assert list(iter_token_lists(["a b\n", "\n", "c\n"], "tokens")) == [["a", "b"], ["c"]]
