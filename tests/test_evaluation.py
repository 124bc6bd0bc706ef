"""Scoring for every model kind (seqtext/evaluation.py, seqtext/metrics.py) and which weights
are decayed (trainer.decay_groups). Each test pins a behaviour that an earlier version got
wrong: the figures must be properties of the model and the data alone."""

import copy
import math
import random
import re
import warnings

import pytest
import torch
from torch.nn import functional as F

import seqtext
from seqtext.api import evaluate_files
from seqtext.classifier.data import read_examples
from seqtext.classifier.scoring import evaluate_classifier
from seqtext.classifier.training import ClassifierDataOptions, train_classifier
from seqtext.configs import ClassifierConfig, LMConfig, TaggerConfig
from seqtext.core.metrics import multi_label_report, single_label_report
from seqtext.core.trainer import TrainConfig, decay_groups
from seqtext.errors import DataError
from seqtext.lm.model import RecurrentLM
from seqtext.lm.scoring import evaluate_language_model, frame, score_documents
from seqtext.tagger.conll import Sentence, format_conll, read_sentences
from seqtext.tagger.model import BiRNNTagger
from seqtext.tagger.schemes import convert


# -- classifiers ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chained_alias_classifier(shared_data, tmp_path_factory):
    """A classifier trained in seconds on 400 SST-2 sentences whose labels are renamed 0 -> 1 and
    1 -> 2: applying the aliases twice would turn every label into 2."""
    lines = (shared_data / "sst2" / "sentences.train").read_text(encoding="utf-8").splitlines()
    folder = tmp_path_factory.mktemp("aliases")
    train, dev = folder / "train.txt", folder / "dev.txt"
    train.write_text("\n".join(lines[:400]) + "\n", encoding="utf-8")
    dev.write_text("\n".join(lines[400:520]) + "\n", encoding="utf-8")
    model = train_classifier(
        str(train), str(dev), folder / "model",
        ClassifierConfig(0, 0, embedding_dim=16, hidden_size=16, mlp_hidden=16),
        ClassifierDataOptions(batch_size=32, label_names={"0": "1", "1": "2"}),
        TrainConfig(epochs=5, max_steps=20, lr=5e-3, warmup_steps=2, eval_every=10, progress=False),
    )
    return model, dev


def test_classifier_evaluation_leaves_examples_alone_with_chained_aliases(chained_alias_classifier):
    model, dev = chained_alias_classifier
    assert model.labels == ["1", "2"] and model.label_aliases == {"0": "1", "1": "2"}
    examples = read_examples(str(dev))
    before = copy.deepcopy(examples)
    first = evaluate_classifier(model, examples)
    assert examples == before
    second = evaluate_classifier(model, examples)
    assert examples == before
    assert first == second
    # Gold is read through the aliases exactly once: file label 0 is class "1", 1 is class "2".
    counts = {label: sum(e.labels == [label] for e in before) for label in ("0", "1")}
    assert counts["0"] > 0 and counts["1"] > 0
    assert first["per_class"]["1"]["support"] == counts["0"]
    assert first["per_class"]["2"]["support"] == counts["1"]
    assert sum(first["confusion"]["1"].values()) == counts["0"]


# -- taggers -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def conll_sentences(shared_data):
    """The first 200 sentences of CoNLL++ dev (BIO tags)."""
    return read_sentences(str(shared_data / "conllpp" / "dev.txt"))[:200]


def _write_conll(path, sentences, scheme="bio"):
    path.write_text("".join(format_conll(Sentence(s.tokens, convert(s.tags, "bio", scheme))) for s in sentences),
                    encoding="utf-8")
    return path


def test_tagger_scores_do_not_depend_on_the_files_tag_scheme(conll_sentences, tmp_path):
    ner = seqtext.load("ner")
    reports = {}
    for scheme in ("bio", "iob1", "bioes"):
        path = _write_conll(tmp_path / f"dev.{scheme}.conll", conll_sentences, scheme)
        reports[scheme] = evaluate_files(ner, [str(path)])
    # The three files really are written differently.
    texts = {scheme: (tmp_path / f"dev.{scheme}.conll").read_text() for scheme in reports}
    assert len(set(texts.values())) == 3
    bio = reports["bio"]
    assert bio["sentences"] == 200 and 0.9 < bio["accuracy"] < 1.0 and bio["f1"] > 0.7
    for scheme in ("iob1", "bioes"):
        report = reports[scheme]
        assert report["sentences"] == bio["sentences"] and report["tokens"] == bio["tokens"]
        assert report["accuracy"] == pytest.approx(bio["accuracy"], abs=1e-12), scheme
        assert report["f1"] == pytest.approx(bio["f1"], abs=1e-12), scheme
        assert report["per_type"] == bio["per_type"], scheme


def test_evaluate_files_reads_every_file_a_glob_matches(conll_sentences, tmp_path):
    ner = seqtext.load("ner")
    _write_conll(tmp_path / "a.conll", conll_sentences[:30])
    _write_conll(tmp_path / "b.conll", conll_sentences[30:75])
    (tmp_path / "notes.txt").write_text("not matched\n")
    both = evaluate_files(ner, [str(tmp_path / "*.conll")])
    a = evaluate_files(ner, [str(tmp_path / "a.conll")])
    b = evaluate_files(ner, [str(tmp_path / "b.conll")])
    assert (a["sentences"], b["sentences"]) == (30, 45)
    assert both["sentences"] == a["sentences"] + b["sentences"]
    assert both["tokens"] == a["tokens"] + b["tokens"]


@pytest.mark.parametrize("paragraphs", [
    # Lines of different lengths (the reader sees ragged columns) ...
    ["The committee met on Tuesday to discuss the budget for the coming year, and agreed on most of it.",
     "Several members asked for more time to read the proposals before the final vote next month."],
    # ... and one paragraph, whose last word would be read as its tag.
    ["The committee met on Tuesday to discuss the budget."],
])
def test_plain_text_given_to_a_span_tagger_is_refused_quietly(paragraphs, tmp_path, capsys):
    prose = tmp_path / "prose.txt"
    prose.write_text("\n".join(paragraphs) + "\n", encoding="utf-8")
    ner = seqtext.load("ner")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(DataError) as error:
            evaluate_files(ner, [str(prose)])
    message = str(error.value)
    assert re.search(r"prose\.txt, line \d+: ", message), message
    assert [str(w.message) for w in caught] == []  # seqeval never ran: no "not NE tag" warnings
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_plain_tagger_refuses_gold_tags_it_has_never_seen(tmp_path):
    """The wrong column of a CoNLL file given to the POS model: the words would be read as gold
    tags and scored as nonsense; it is refused with the file and line instead."""
    conll = tmp_path / "pos.conll"
    conll.write_text("The\tDET\ncat\tNOUN\nsat\tVERB\n.\tPUNCT\n\nDogs\tNOUN\nbark\tVERB\n.\tPUNCT\n", encoding="utf-8")
    pos = seqtext.load("pos")
    assert evaluate_files(pos, [str(conll)])["accuracy"] > 0.8
    with pytest.raises(DataError, match=r"pos\.conll, line 1: .* gold tags .* not tags of this model"):
        evaluate_files(pos, [str(conll)], tag_column="0")


# -- language models -----------------------------------------------------------------------------
def _documents(text: str, count: int, seed: int = 0) -> list[list[str]]:
    """``count`` documents of 1 to 900 characters cut from ``text``; every third has two texts."""
    rng = random.Random(seed)
    documents = []
    for n in range(count):
        start, length = rng.randrange(len(text) - 1000), rng.randint(1, 900)
        piece = text[start : start + length]
        documents.append([piece[: length // 2], piece[length // 2 :] or "x"] if n % 3 == 2 else [piece])
    return documents


def test_lm_scores_do_not_depend_on_batch_size(tiny_lm_dir, shakespeare_text):
    lm = seqtext.load(tiny_lm_dir)
    documents = _documents(shakespeare_text[-100_000:], 30)
    assert len({sum(map(len, d)) for d in documents}) > 20
    results = {b: evaluate_language_model(lm, documents, batch_size=b) for b in (1, 3, 16)}
    for b in (3, 16):
        assert results[b]["cross_entropy"] == pytest.approx(results[1]["cross_entropy"], rel=1e-6), b
        assert results[b]["tokens"] == results[1]["tokens"]
    # Every character is predicted once, and each text's <eos>; no <bos> is ever a target.
    assert results[1]["tokens"] == sum(len(text) + 1 for texts in documents for text in texts)
    assert results[1]["characters"] == sum(len(text) for texts in documents for text in texts)
    assert results[1]["documents"] == 30


def test_bits_per_character_is_nll_per_character(tiny_lm_dir, shakespeare_text):
    lm = seqtext.load(tiny_lm_dir)
    documents = _documents(shakespeare_text[-100_000:], 12, seed=1)
    result = evaluate_language_model(lm, documents, batch_size=16)
    totals = score_documents(lm.network, [frame(texts, lm) for texts in documents], 16)
    characters = sum(len(text) for texts in documents for text in texts)
    assert result["unknown_tokens"] == 0  # every character of the held-out text was seen in training
    assert result["bits_per_character"] == result["bits_per_character_unk_free"] == totals["nll"] / characters / math.log(2)
    assert result["cross_entropy"] == totals["nll"] / totals["tokens"]


def test_a_word_models_unknown_words_pay_for_their_spelling():
    """<unk> names no word: bits per character adds the bits to spell each word the model calls
    <unk> (its characters and an end mark, uniform over the vocabulary's characters), so that a
    word model's figure leaves nothing out; the figure without them keeps another name."""
    brown = seqtext.load("brown", device="cpu")
    assert "zzqxv" not in brown.tokenizer.stoi and "the" in brown.tokenizer.stoi
    result = evaluate_language_model(brown, [["the zzqxv of the house", "zzqxv again"]])
    assert result["unknown_tokens"] == 2
    spelled = 2 * (len("zzqxv") + 1) * math.log2(len(brown.tokenizer.alphabet()) + 1)
    assert result["bits_per_character"] == pytest.approx(result["bits_per_character_unk_free"] + spelled / result["characters"])
    assert result["bits_per_character"] > result["bits_per_character_unk_free"] + 1


def test_long_document_scores_as_token_by_token_reading(tiny_lm_dir, shakespeare_text):
    lm = seqtext.load(tiny_lm_dir)
    document = shakespeare_text[-3000:]
    result = evaluate_language_model(lm, [[document]])
    ids = torch.from_numpy(frame([document], lm))
    assert len(ids) == 3002  # <bos>, 3,000 characters, <eos>
    network = lm.network.eval()
    zeros = torch.zeros(network.config.num_layers, 1, network.config.hidden_size)
    state = (zeros, zeros.clone()) if network.config.cell == "lstm" else zeros
    nll = 0.0
    with torch.no_grad():
        for t in range(len(ids) - 1):
            logits, state = network(ids[t : t + 1][None], state)
            nll -= F.log_softmax(logits[0, -1].double(), -1)[ids[t + 1]].item()
    assert result["tokens"] == 3001
    assert result["cross_entropy"] == pytest.approx(nll / 3001, rel=1e-6)


def test_cold_start_cross_entropy_is_reported(tiny_lm_dir, shakespeare_text):
    lm = seqtext.load(tiny_lm_dir)
    result = evaluate_language_model(lm, [[shakespeare_text[-5000:]]])
    fresh = result["fresh_cross_entropy"]
    assert math.isfinite(fresh) and fresh > 0
    # Starting from nothing is harder than reading on with the state carried.
    assert fresh > result["cross_entropy"]


# -- weight decay --------------------------------------------------------------------------------
def _names(network, params) -> set[str]:
    ids = {id(p) for p in params}
    return {name for name, p in network.named_parameters(remove_duplicate=False) if id(p) in ids}


def test_tagger_decays_matrices_only():
    network = BiRNNTagger(TaggerConfig(vocab_size=30, num_tags=5, char_vocab_size=12, word_dim=8, char_dim=4,
                                       char_hidden=4, hidden_size=6))
    decay, no_decay = decay_groups(network)
    assert len(decay) + len(no_decay) == len(list(network.parameters()))
    assert not {id(p) for p in decay} & {id(p) for p in no_decay}
    decayed, kept = _names(network, decay), _names(network, no_decay)
    assert {"words.weight", "chars.embedding.weight", "crf.transitions", "crf.start", "crf.end"} <= kept
    assert {name for name in decayed | kept if "bias" in name} <= kept
    assert decayed == {"emissions.weight"} | {
        name for name, _ in network.named_parameters() if name.startswith(("rnn.weight_", "chars.rnn.weight_"))
    }
    assert {"rnn.weight_ih_l0", "rnn.weight_hh_l0_reverse", "chars.rnn.weight_ih_l0"} <= decayed


def test_tied_lm_matrix_is_not_decayed_and_counted_once():
    network = RecurrentLM(LMConfig(vocab_size=11, embedding_dim=8, hidden_size=12, num_layers=2, dropout=0.2, tie_weights=True))
    assert network.decoder.weight is network.embedding.weight
    decay, no_decay = decay_groups(network)
    shared = network.embedding.weight
    assert sum(p is shared for p in no_decay) == 1 and not any(p is shared for p in decay)
    assert len(decay) + len(no_decay) == len(list(network.parameters()))
    assert _names(network, decay) == {"projection.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0",
                                      "rnn.weight_ih_l1", "rnn.weight_hh_l1"}


# -- classification metrics ----------------------------------------------------------------------
def test_macro_f1_ignores_labels_absent_from_gold_and_predictions():
    gold = ["a", "b", "a", "b", "a"]
    report = single_label_report(gold, gold, ["a", "b", "c"])
    assert report["macro_f1"] == 1.0 and report["accuracy"] == 1.0
    report = multi_label_report([{"a"}, {"a", "b"}], [{"a"}, {"a", "b"}], ["a", "b", "c"])
    assert report["macro_f1"] == 1.0 and report["micro_f1"] == 1.0


def test_metrics_match_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    rng = random.Random(5)
    labels = ["a", "b", "c", "d", "e"]
    for case in range(20):
        n = rng.randint(1, 30)
        used = labels[: rng.randint(1, 5)]  # some labels never occur
        gold = [rng.choice(used) for _ in range(n)]
        predicted = [g if rng.random() < 0.5 else rng.choice(used) for g in gold]
        report = single_label_report(gold, predicted, labels)
        assert report["macro_f1"] == pytest.approx(f1_score(gold, predicted, average="macro", zero_division=0)), case
        assert report["accuracy"] == pytest.approx(accuracy_score(gold, predicted)), case

        gold_sets = [set(rng.sample(used, rng.randint(0, len(used)))) for _ in range(n)]
        predicted_sets = [set(rng.sample(used, rng.randint(0, len(used)))) for _ in range(n)]
        report = multi_label_report(gold_sets, predicted_sets, labels)
        binarizer = MultiLabelBinarizer(classes=labels)
        y_true, y_pred = binarizer.fit_transform(gold_sets), binarizer.transform(predicted_sets)
        present = [i for i, label in enumerate(labels) if y_true[:, i].any() or y_pred[:, i].any()]
        expected_macro = f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0) if present else 0.0
        assert report["macro_f1"] == pytest.approx(expected_macro), case
        assert report["micro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="micro", zero_division=0)), case
        assert report["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred)), case


def _counted_report(gold, predicted, labels):
    """The single-label report from first principles (counts), to hold scikit-learn's to."""
    def prf(tp, fp, fn):
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "support": tp + fn}

    confusion = {g: {p: sum(x == g and y == p for x, y in zip(gold, predicted)) for p in labels} for g in labels}
    per_class = {label: prf(confusion[label][label], sum(confusion[g][label] for g in labels) - confusion[label][label],
                            sum(confusion[label].values()) - confusion[label][label]) for label in labels}
    present = [label for label in labels if label in gold or label in predicted]
    return {"examples": len(gold), "accuracy": sum(g == p for g, p in zip(gold, predicted)) / len(gold),
            "macro_f1": sum(per_class[label]["f1"] for label in present) / len(present),
            "per_class": per_class, "confusion": confusion}


@pytest.mark.slow
def test_reports_match_counts_on_random_cases():
    """Per-class scores, supports, the confusion matrix (rows gold, columns predicted, in the
    model's label order) and the macro average over labels present, against plain counting."""
    rng = random.Random(11)
    labels = ["neg", "neu", "pos", "mixed", "other"]
    for case in range(200):
        n = rng.randint(1, 25)
        used = rng.sample(labels, rng.randint(1, 5))  # some labels never occur at all
        gold = [rng.choice(used) for _ in range(n)]
        predicted = [g if rng.random() < 0.4 else rng.choice(used) for g in gold]
        report, expected = single_label_report(gold, predicted, labels), _counted_report(gold, predicted, labels)
        assert report["confusion"] == expected["confusion"] and list(report["confusion"]) == labels, case
        assert list(report["per_class"]) == labels, case
        for label in labels:
            assert report["per_class"][label] == pytest.approx(expected["per_class"][label], rel=1e-12), (case, label)
        for key in ("examples", "accuracy", "macro_f1"):
            assert report[key] == pytest.approx(expected[key], rel=1e-12), (case, key)

        gold_sets = [set(rng.sample(used, rng.randint(0, len(used)))) for _ in range(n)]
        predicted_sets = [set(rng.sample(used, rng.randint(0, len(used)))) for _ in range(n)]
        report = multi_label_report(gold_sets, predicted_sets, labels)
        for label in labels:  # one label at a time is a binary single-label problem
            binary = _counted_report([label in g for g in gold_sets], [label in p for p in predicted_sets], [True, False])
            assert report["per_class"][label] == pytest.approx(binary["per_class"][True], rel=1e-12), (case, label)
        tp = sum(len(g & p) for g, p in zip(gold_sets, predicted_sets))
        guessed, true = sum(map(len, predicted_sets)), sum(map(len, gold_sets))
        micro = 2 * tp / (guessed + true) if guessed + true else 0.0
        assert report["micro_f1"] == pytest.approx(micro, rel=1e-12), case
        assert report["accuracy"] == sum(g == p for g, p in zip(gold_sets, predicted_sets)) / n, case


def test_classifier_with_no_examples_is_refused():
    with pytest.raises(DataError, match="no examples to evaluate"):
        evaluate_classifier(seqtext.load("sentiment"), [])


POS_GOLD = "The\tDET\ncat\tNOUN\nsat\tVERB\non\tADP\nthe\tDET\nmat\tNOUN\n.\tPUNCT\n\nDogs\tNOUN\nbark\tVERB\nloudly\tADV\n.\tPUNCT\n\nRun\tVERB\n!\tPUNCT\n"


def test_plain_tagger_confusion_and_accuracy_are_counts(tmp_path):
    (tmp_path / "pos.conll").write_text(POS_GOLD, encoding="utf-8")
    pos = seqtext.load("pos")
    gold = read_sentences(str(tmp_path / "pos.conll"))
    report = evaluate_files(pos, [str(tmp_path / "pos.conll")])
    pairs = [(g, p) for s, tags in zip(gold, pos.tag([s.tokens for s in gold])) for g, p in zip(s.tags, tags)]
    labels = sorted({tag for pair in pairs for tag in pair})
    assert report["confusion"] == {g: {p: pairs.count((g, p)) for p in labels} for g in labels}
    assert report["tokens"] == len(pairs) == 13 and report["accuracy"] == sum(g == p for g, p in pairs) / len(pairs)
    errors = sorted(((n, g, p) for g, row in report["confusion"].items() for p, n in row.items() if g != p and n), reverse=True)
    assert report["top_confusions"] == [{"gold": g, "predicted": p, "count": n} for n, g, p in errors[:15]]


@pytest.mark.slow
def test_tagging_piece_by_piece_gives_the_tags_of_one_call(monkeypatch):
    """evaluate_tagger tags in pieces (so that its bar moves); the pieces are whole batches of
    the length-sorted order, so the tags are exactly those of one ``tag`` call."""
    from seqtext.tagger import scoring as evaluation

    words = ("Angela Merkel met the press in Berlin on Monday , and Peter Blackburn of the European Union "
             "said that Germany would not buy British lamb until scientists knew more .").split()
    rng = random.Random(3)
    sentences = []
    for _ in range(300):
        start = rng.randrange(len(words))
        sentences.append((words[start:] + words)[: rng.randint(1, 40)])
    ner = seqtext.load("ner")
    whole = ner.tag(sentences, scheme="bio", batch_size=evaluation.TAG_BATCH)
    monkeypatch.setattr(evaluation, "TAG_PIECE", 2 * evaluation.TAG_BATCH)  # 3 pieces here instead of 1
    assert evaluation._tag_all(ner, sentences, "bio", progress=False) == whole


def test_progress_bar_goes_to_stderr_with_a_rate(tmp_path, capsys):
    (tmp_path / "pos.conll").write_text(POS_GOLD, encoding="utf-8")
    (tmp_path / "reviews.txt").write_text("1 a gorgeous, witty, seductive movie.\n0 a dull, lifeless film.\n", encoding="utf-8")
    (tmp_path / "play.txt").write_text("ROMEO:\nBut soft, what light through yonder window breaks?\n", encoding="utf-8")
    # Totals: 13 gold tokens; 2 reviews; the play's 58 characters framed by <bos> and <eos>: 59 predictions.
    runs = [("pos", "pos.conll", "/13.0 ["), ("sentiment", "reviews.txt", "/2.00 ["), ("shakespeare", "play.txt", "/59.0 [")]
    for name, file, total in runs:
        model = seqtext.load(name)
        quiet = evaluate_files(model, [str(tmp_path / file)])
        assert capsys.readouterr() == ("", ""), name
        shown = evaluate_files(model, [str(tmp_path / file)], progress=True)
        out, err = capsys.readouterr()
        assert out == "" and total in err and ("example/s" if name == "sentiment" else "token/s") in err, (name, err)
        assert shown == quiet, name


@pytest.mark.slow
def test_evaluate_command_draws_its_bar_on_a_terminal_only(tmp_path):
    """`seqtext evaluate` with stderr on a terminal: a bar there, the JSON alone on stdout;
    --quiet: no bar. (With stderr not a terminal there is none either: the other CLI tests.)"""
    pty = pytest.importorskip("pty")
    import fcntl
    import json
    import os
    import struct
    import subprocess
    import sys
    import termios

    (tmp_path / "pos.conll").write_text(POS_GOLD, encoding="utf-8")

    def run(*options):
        leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # tqdm draws nothing 0 columns wide
        command = [sys.executable, "-m", "seqtext.cli.main", "evaluate", "pos", str(tmp_path / "pos.conll"), "--json", *options]
        try:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower)
            os.close(follower)  # the child holds the terminal now; read it while the child writes
            terminal = b""
            while True:
                try:
                    piece = os.read(leader, 65536)
                except OSError:  # EIO: the child has exited and closed its end
                    break
                if not piece:
                    break
                terminal += piece
            stdout = process.stdout.read()
            assert process.wait(timeout=300) == 0, terminal
        finally:
            os.close(leader)
        return json.loads(stdout), terminal.decode()

    result, terminal = run()
    assert result["tokens"] == 13 and "token/s" in terminal and "/13.0 [" in terminal
    quiet, terminal = run("--quiet")
    assert quiet == result and terminal == ""
