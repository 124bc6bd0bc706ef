"""``train lm --backward``: the corpus read right to left, each document still framed <bos> ... <eos>,
and a backward model that writes the text before its seed."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import seqtext
from seqtext.cli.main import main
from seqtext.configs import LMConfig, LMDataOptions, TrainConfig
from seqtext.errors import SeqtextError, TrainingError
from seqtext.lm.corpus import encode_documents, reverse_ids
from seqtext.lm.training import train_language_model
from seqtext.text.tokenizers import BOS, EOS, CharTokenizer

LINE = "the cat sat on the mat.\n"


def test_reversed_stream_keeps_every_document_framed(tmp_path):
    tokenizer = CharTokenizer.train(["abc xyz"])
    pieces = [("abc", True, True), ("xy", True, False), ("z", False, True)]  # the second document comes in two pieces
    forward = np.array(encode_documents(pieces, tokenizer, tmp_path / "f.bin"))
    backward = np.array(encode_documents(pieces, tokenizer, tmp_path / "b.bin", backward=True))
    enc = tokenizer.encode
    assert forward.tolist() == [BOS, *enc("abc"), EOS, BOS, *enc("xyz"), EOS]
    assert backward.tolist() == [BOS, *enc("zyx"), EOS, BOS, *enc("cba"), EOS]


def test_reversing_in_small_chunks_matches_reversing_at_once(tmp_path):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50, size=10_001).astype(np.uint16)
    path = tmp_path / "ids.bin"
    ids.tofile(path)
    got = np.array(reverse_ids(path, np.dtype(np.uint16), chunk=999))
    expected = ids[::-1].copy()
    expected[ids[::-1] == BOS], expected[ids[::-1] == EOS] = EOS, BOS
    assert np.array_equal(got, expected)


@pytest.fixture(scope="module")
def backward_lm(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus") / "cats.txt"
    corpus.write_text(LINE * 400)
    out = tmp_path_factory.mktemp("runs") / "backward"
    return train_language_model(
        [str(corpus)], out, LMConfig(vocab_size=0, embedding_dim=16, hidden_size=64, num_layers=1, dropout=0.0),
        LMDataOptions(backward=True, batch_size=8, bptt=32, fresh_share=0.0),
        TrainConfig(epochs=30, lr=1e-2, warmup_steps=5, progress=False),
    ), out


@pytest.mark.slow
def test_a_backward_model_writes_what_comes_before_its_seed(backward_lm):
    lm, out = backward_lm
    reloaded = seqtext.load(out)
    assert reloaded.backward and lm.backward
    text = reloaded.generate("the mat.", max_length=15, temperature=0)[0].text
    assert text.endswith("the cat sat on "), text
    with pytest.raises(SeqtextError, match="right to left"):
        next(reloaded.stream("the mat."))


def test_a_backward_model_goes_on_backwards_and_a_forward_one_refuses_to_turn(backward_lm, tmp_path):
    lm, out = backward_lm
    corpus = tmp_path / "cats.txt"
    corpus.write_text(LINE * 50)
    train = TrainConfig(max_steps=2, warmup_steps=1, progress=False)
    again = train_language_model([str(corpus)], tmp_path / "more", train=train, init_from=str(out))
    assert again.backward
    forward = train_language_model([str(corpus)], tmp_path / "forward", LMConfig(vocab_size=0, embedding_dim=8, hidden_size=8, num_layers=1),
                                   LMDataOptions(batch_size=4, bptt=16), train)
    assert not forward.backward
    with pytest.raises(TrainingError, match="data.backward"):
        train_language_model([str(corpus)], tmp_path / "turned", data=LMDataOptions(backward=True), train=train,
                             init_from=str(tmp_path / "forward"))


def _train_backward(tmp_path, tokenizer: str, *options: str) -> Path:
    """``seqtext train lm --backward`` on the cat line, through the command line."""
    corpus = tmp_path / "cats.txt"
    corpus.write_text(LINE * 400)
    out = tmp_path / f"backward-{tokenizer}"
    result = CliRunner().invoke(main, ["train", "lm", str(corpus), "--backward", "-o", str(out), "--tokenizer", tokenizer,
                                       "--layers", "1", "--embedding-dim", "16", "--dropout", "0", "--batch-size", "8",
                                       "--fresh-share", "0", "--lr", "1e-2", "--warmup-steps", "5", "--quiet", *options])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
def test_train_lm_backward_from_the_command_line(tmp_path):
    """``seqtext train lm --backward`` trains the right-to-left model, and ``seqtext generate``
    with it writes what comes before the seed."""
    out = _train_backward(tmp_path, "char", "--hidden", "64", "--bptt", "32", "--epochs", "30")
    assert seqtext.load(out).backward
    result = CliRunner().invoke(main, ["generate", "the mat.", "-m", str(out), "--temperature", "0", "--max-length", "15"])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("the cat sat on the mat.\n"), result.stdout  # the text before the seed, then the seed


def test_generate_with_a_backward_word_model_keeps_the_space_before_the_seed(tmp_path):
    """Word tokens: the text before the seed ends with the space that joins it to the seed, in
    every output form; --stop, which a right-to-left model cannot honour, is a usage error."""
    out = _train_backward(tmp_path, "word", "--hidden", "32", "--bptt", "8", "--epochs", "10")
    runner = CliRunner()
    seed = ["generate", "the mat .", "-m", str(out), "--temperature", "0", "--max-length", "10"]
    result = runner.invoke(main, seed)
    assert result.exit_code == 0, result.output
    assert result.stdout == "the cat sat on the mat .\n", result.stdout
    result = runner.invoke(main, seed + ["-s", "2"])
    assert result.stdout.split("\n")[0] == "the cat sat on the mat .", result.stdout
    result = runner.invoke(main, seed + ["--format", "jsonl"])
    record = json.loads(result.stdout)
    assert record["backward"] is True and record["text"] + record["seed"] == "the cat sat on the mat ."
    result = runner.invoke(main, seed + ["--stop", "cat"])
    assert result.exit_code == 2 and "--stop" in result.stderr, result.output


def _read_left_to_right(lm):
    """The same network, taken for a forward model: what reading in the wrong direction gives."""
    import copy

    forward = copy.copy(lm)
    forward.backward = False
    return forward


def test_a_backward_model_is_scored_right_to_left(backward_lm):
    """``seqtext evaluate`` reads the text as the model learnt it: right to left. Read left to
    right, the same model would look like one that never learnt the line."""
    from seqtext.lm.scoring import evaluate_language_model, frame, score_documents

    lm, _ = backward_lm
    as_forward = _read_left_to_right(lm)
    scored = evaluate_language_model(lm, [[LINE * 4]])
    totals = score_documents(lm.network, [frame([LINE * 4], as_forward)])  # left to right, the wrong way
    assert scored["cross_entropy"] < 0.5 < totals["nll"] / totals["tokens"], (scored, totals)
    texts = [LINE.strip(), "the cat sat."]
    by_hand = [BOS, *lm.tokenizer.encode("the cat sat.")[::-1], EOS, BOS, *lm.tokenizer.encode(LINE.strip())[::-1], EOS]
    assert frame(texts, lm).tolist() == by_hand


def test_inspect_reads_a_backward_model_right_to_left(backward_lm):
    """A backward model's cells are those of reading the text reversed, shown in reading order."""
    from seqtext.lm.cells import cell_activations

    lm, _ = backward_lm
    as_forward = _read_left_to_right(lm)
    text = "the cat sat on the mat."
    backward = cell_activations(lm, text)
    reversed_read = cell_activations(as_forward, text[::-1])
    assert np.array_equal(backward.values, reversed_read.values[::-1])
    assert not np.allclose(backward.values, cell_activations(as_forward, text).values)


def _exported(model_dir, path):
    """The model exported to TorchScript and loaded by the seqtext_runtime.py written beside it."""
    import importlib.util

    from seqtext.export.writer import export

    report = export(seqtext.load(model_dir), path, "torchscript")
    spec = importlib.util.spec_from_file_location(f"seqtext_runtime_{path.stem}", report.runtime)
    runtime = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runtime)
    return runtime.load(str(report.path))


@pytest.mark.parametrize("tokenizer", ["char", "word"])
def test_an_exported_backward_model_generates_the_text_before_its_seed(backward_lm, tmp_path, tokenizer):
    if tokenizer == "char":
        lm, out = backward_lm
        seed, before = "the mat.", "the cat sat on "
    else:
        out = _train_backward(tmp_path, "word", "--hidden", "32", "--bptt", "8", "--epochs", "10")
        lm, seed, before = seqtext.load(out), "the mat .", "the cat sat on "
    exported = _exported(out, tmp_path / "backward.pt")
    assert exported.meta["backward"] is True
    expected = lm.generate(seed, max_length=15, temperature=0)[0].text
    assert expected.endswith(before)
    assert exported.generate(seed, max_length=15) == expected  # the text before the seed, the joining space included
