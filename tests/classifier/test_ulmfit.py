"""``train classifier --pretrained-lm``: ULMFiT on tiny inline data. The encoder starts from the
language model's weights, the LM is fine-tuned on the training texts first, the classifier
trains with gradual unfreezing and discriminative learning rates, and the saved classifier
stands alone."""

import json
import random
import shutil

import pytest
import torch
from click.testing import CliRunner

import seqtext
from seqtext.classifier.data import read_examples
from seqtext.classifier.model import LMClassifier
from seqtext.classifier.training import (
    LMClassifierTask,
    extend_vocabulary,
    train_classifier,
)
from seqtext.cli.main import main
from seqtext.configs import (
    ClassifierConfig,
    ClassifierDataOptions,
    LMConfig,
    LMDataOptions,
    TrainConfig,
)
from seqtext.core.trainer import Trainer
from seqtext.export.writer import export
from seqtext.lm.training import train_language_model
from seqtext.text.tokenizers import BOS, EOS, SPECIALS, pad_batch

GOOD = ["good", "great", "lovely", "superb", "fine"]
BAD = ["bad", "awful", "dull", "poor", "weak"]
THINGS = ["the film", "this movie", "the plot", "the acting", "our show"]


def sentences(count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        label = rng.choice("01")
        words = GOOD if label == "1" else BAD
        rows.append((label, f"{rng.choice(THINGS)} was {rng.choice(words)} and {rng.choice(words)} ."))
    return rows


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ulmfit")
    for name, count, seed in (("train.txt", 160, 1), ("dev.txt", 40, 2)):
        (folder / name).write_text("".join(f"{label} {text}\n" for label, text in sentences(count, seed)))
    (folder / "unlabelled.txt").write_text("".join(f"{text}\n" for _, text in sentences(600, 3)))
    return folder


def _lm(data, out, backward=False):
    return train_language_model(
        [str(data / "unlabelled.txt")], out, LMConfig(vocab_size=0, embedding_dim=16, hidden_size=32, num_layers=2, dropout=0.0),
        LMDataOptions(backward=backward, batch_size=8, bptt=32), TrainConfig(max_steps=40, lr=1e-2, warmup_steps=5, progress=False),
    )


@pytest.fixture(scope="module")
def forward_lm(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("lms") / "forward"
    _lm(data, out)
    return out


@pytest.fixture(scope="module")
def backward_lm(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("lms") / "backward"
    _lm(data, out, backward=True)
    return out


def _train(data, out, lms, epochs=1, finetune=0, **train):
    return train_classifier(
        str(data / "train.txt"), str(data / "dev.txt"), out, ClassifierConfig(0, 0, dropout=0.1, mlp_hidden=16),
        ClassifierDataOptions(batch_size=16, pretrained_lms=[str(lm) for lm in lms], lm_finetune_epochs=finetune),
        TrainConfig(epochs=epochs, lr=5e-3, warmup_steps=2, progress=False, **train),
    )


def _encoder_state(network: LMClassifier, index: int = 0) -> dict:
    return {k: v.clone() for k, v in network.encoders[index].state_dict().items()}


def _lm_state(lm_dir) -> dict:
    network = seqtext.load(lm_dir).network
    return {**{f"embedding.{k}": v for k, v in network.embedding.state_dict().items()},
            **{f"rnn.{k}": v for k, v in network.rnn.state_dict().items()}}


def _changed(before: dict, after: dict) -> set[str]:
    return {key for key in before if not torch.equal(before[key], after[key])}


@pytest.fixture(scope="module")
def one_epoch(data, forward_lm, tmp_path_factory):
    """A classifier trained one epoch on the forward LM, without fine-tuning."""
    out = tmp_path_factory.mktemp("clf") / "one"
    _train(data, out, [forward_lm])
    return out


def test_the_encoder_is_the_language_model_and_epoch_one_trains_the_head_alone(one_epoch, forward_lm):
    model = seqtext.load(one_epoch)
    config = model.network.config
    assert (config.encoder, config.directions, config.pooling, config.cell) == ("lm", ["forward"], "concat", "lstm")
    assert (config.num_layers, config.hidden_size, config.embedding_dim) == (2, 32, 16)
    assert model.tokenizer.itos == seqtext.load(forward_lm).tokenizer.itos  # the LM's char tokenizer
    assert _changed(_lm_state(forward_lm), _encoder_state(model.network)) == set()  # frozen in epoch 1
    start = LMClassifier(config).state_dict()
    assert _changed({k: v for k, v in start.items() if k.startswith("head.")}, model.network.state_dict())  # the head learnt


def test_epoch_two_also_trains_the_top_layer_and_resume_freezes_by_epoch(one_epoch, forward_lm, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(one_epoch, run)
    before = torch.load(run / "checkpoint.pt", weights_only=True)["network"]
    # Everything but the limits comes from run.json.
    train_classifier(None, None, run, train=TrainConfig(epochs=2, progress=False), resume=True, given={"train.epochs": "--epochs"})
    after = torch.load(run / "checkpoint.pt", weights_only=True)["network"]
    changed = _changed(before, after)
    assert {k for k in changed if k.startswith("head.")}
    assert {k.rsplit(".", 1)[1] for k in changed if k.startswith("encoders.")} == {
        "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"}  # the top layer; layer 0 and embeddings wait


def test_discriminative_learning_rates(one_epoch, data, tmp_path):
    model = seqtext.load(one_epoch)
    examples = read_examples(str(data / "train.txt"))
    task = LMClassifierTask(model, [model.encode(e.text) for e in examples], [[int(e.labels[0])] for e in examples],
                            examples[:4], ClassifierDataOptions(batch_size=16), seed=0)
    trainer = Trainer(task, TrainConfig(lr=1e-3, max_steps=1, warmup_steps=0, progress=False), tmp_path)
    names = {id(p): name for name, p in model.network.named_parameters()}
    depth = {"head": 0, "_l1": 1, "_l0": 2, "embedding": 3}
    trainer.fit()
    seen = set()
    for group in trainer.optimizer.param_groups:
        for param in group["params"]:
            name = names[id(param)]
            (level,) = [d for key, d in depth.items() if name.startswith(key) or name.endswith(key) or f".{key}." in name]
            assert group["lr_scale"] == pytest.approx(2.6 ** -level), name
            assert group["lr"] == pytest.approx(trainer.lr_at(0) * 2.6 ** -level), name
            seen.add(name)
    assert seen == set(names.values())


@pytest.mark.filterwarnings("ignore:the training text has")  # a tiny corpus: a smaller LM batch
def test_finetuning_writes_the_lm_and_a_pair_of_directions_stands_alone(data, forward_lm, backward_lm, tmp_path):
    lms = [tmp_path / "fwd", tmp_path / "bwd"]
    shutil.copytree(forward_lm, lms[0])
    shutil.copytree(backward_lm, lms[1])
    out = tmp_path / "pair"
    model = _train(data, out, lms, epochs=1, finetune=1)
    assert model.network.config.directions == ["forward", "backward"]
    for lm, name, direction in zip(lms, ("lm-finetuned", "lm-finetuned-backward"), (False, True)):
        finetuned = seqtext.load(out / name)
        assert finetuned.backward is direction
        assert _changed(_lm_state(lm), _lm_state(out / name))  # fine-tuning moved the weights
        index = ["lm-finetuned", "lm-finetuned-backward"].index(name)
        assert _changed(_lm_state(out / name), _encoder_state(model.network, index)) == set()  # and the encoder starts there
    log = [json.loads(line) for line in (out / "lm-finetuned" / "log.jsonl").read_text().splitlines()]
    assert log and "val_loss" in log[-1]
    texts = ["the film was great and fine .", "our show was dull .", ""]
    probs = model.probabilities(texts)
    for lm in lms:
        shutil.rmtree(lm)
    shutil.rmtree(out / "lm-finetuned")
    shutil.rmtree(out / "lm-finetuned-backward")
    assert torch.equal(seqtext.load(out).probabilities(texts), probs)
    assert [piece for piece, _ in model.explain("so good")] == list("so good")


@pytest.mark.filterwarnings("ignore:the training text has")
def test_a_run_stopped_before_the_classifier_began_resumes_from_the_finetuning(data, forward_lm, tmp_path):
    out = tmp_path / "stopped"
    _train(data, out, [forward_lm], finetune=1)
    finetuned = _lm_state(out / "lm-finetuned")
    # As a run stopped in the fine-tuning looks: no classifier checkpoint, fine-tuning not marked done.
    (out / "checkpoint.pt").unlink()
    run = json.loads((out / "run.json").read_text())
    assert run["derived"].pop("lm_finetuned") == ["lm-finetuned"]
    (out / "run.json").write_text(json.dumps(run))
    model = train_classifier(None, None, out, resume=True)
    assert json.loads((out / "run.json").read_text())["derived"]["lm_finetuned"] == ["lm-finetuned"]
    assert _changed(finetuned, _lm_state(out / "lm-finetuned")) == set()  # finished already: not trained again
    assert _changed(finetuned, _encoder_state(model.network)) == set()  # the classifier started from it
    assert (out / "checkpoint.pt").is_file()


def test_backward_encoder_reads_each_text_reversed_between_bos_and_eos(forward_lm, backward_lm):
    lms = [seqtext.load(forward_lm), seqtext.load(backward_lm)]
    config = ClassifierConfig(lms[0].tokenizer.vocab_size, 2, embedding_dim=16, hidden_size=32, num_layers=2, cell="lstm",
                              pooling="concat", encoder="lm", directions=["forward", "backward"])
    network = LMClassifier(config).eval()
    network.load_language_models([lm.network for lm in lms])
    texts = ["the plot was poor .", "great"]
    ids, lengths = pad_batch([lms[0].tokenizer.encode(t) for t in texts])
    with torch.no_grad():
        features = network.features(ids, lengths)
        for row, text in enumerate(texts):
            encoded = lms[0].tokenizer.encode(text)
            for index, (lm, sequence) in enumerate(zip(lms, (encoded, encoded[::-1]))):
                out, _ = lm.network.eval().rnn(lm.network.embedding(torch.tensor([[BOS, *sequence, EOS]])))
                expected = torch.cat([out[0, -1], out[0].max(0).values, out[0].mean(0)])
                assert torch.allclose(features[row, index * 96:(index + 1) * 96], expected, atol=1e-5)


def test_a_training_batch_of_one_text_goes_through_the_batch_norm(forward_lm):
    lm = seqtext.load(forward_lm)
    config = ClassifierConfig(lm.tokenizer.vocab_size, 2, embedding_dim=16, hidden_size=32, num_layers=2, cell="lstm",
                              pooling="concat", encoder="lm", directions=["forward"])
    network = LMClassifier(config).train()
    logits = network(*pad_batch([lm.tokenizer.encode("dull")]))  # an epoch's last batch can be one text
    assert logits.shape == (1, 2) and torch.isfinite(logits).all()


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_resume_keeps_the_language_model(data, forward_lm, tmp_path):
    out = tmp_path / "cli"
    common = ["--quiet", "--batch-size", 16, "--warmup-steps", 2, "--lm-finetune-epochs", 0]
    result = cli("train", "classifier", data / "train.txt", "--dev", data / "dev.txt", "-o", out, "--pretrained-lm", forward_lm,
                 "--epochs", 1, *common)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "run.json").read_text())["files"]["pretrained_lms"] == [str(forward_lm.absolute())]
    result = cli("train", "classifier", "-o", out, "--resume", "--epochs", 2, "--quiet")
    assert result.exit_code == 0, result.output
    assert seqtext.load(out).network.config.encoder == "lm"
    result = cli("train", "classifier", "-o", out, "--resume", "--epochs", 3, "--pretrained-lm", "shakespeare")
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert "--pretrained-lm cannot change when resuming" in result.output
    report = export(seqtext.load(out), tmp_path / "model.pt", "torchscript")
    assert report.max_abs_diff < 1e-4 and (tmp_path / "model.pt").is_file()


@pytest.mark.parametrize("lm, wanted", [
    ("ner", "--pretrained-lm ner: a tagger, not a language model"),
    ("{tmp}/nowhere", "--pretrained-lm: {tmp}/nowhere: no such model directory"),
])
def test_a_model_that_is_no_language_model_is_one_line(data, tmp_path, lm, wanted):
    lm, wanted = lm.format(tmp=tmp_path), wanted.format(tmp=tmp_path)
    result = cli("train", "classifier", data / "train.txt", "-o", tmp_path / "out", "--pretrained-lm", lm, "--quiet")
    assert result.exit_code == 1 and result.output.startswith(f"Error: {wanted}") and result.output.count("\n") == 1, result.output


def test_options_the_language_model_decides_are_refused(data, forward_lm, tmp_path):
    result = cli("train", "classifier", data / "train.txt", "-o", tmp_path / "out", "--pretrained-lm", forward_lm,
                 "--hidden", 64, "--tokenizer", "word", "--quiet")
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert "--tokenizer, --hidden cannot be given with --pretrained-lm" in result.output



@pytest.fixture(scope="module")
def word_lm(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("lms") / "word"
    train_language_model([str(data / "unlabelled.txt")], out, LMConfig(vocab_size=0, embedding_dim=16, hidden_size=32, dropout=0.0),
                         LMDataOptions(tokenizer="word", batch_size=8, bptt=8),
                         TrainConfig(max_steps=20, lr=1e-2, warmup_steps=2, progress=False))
    return out


def test_a_word_language_model_keeps_the_ngram_path_beside_its_encoder(data, one_epoch, word_lm, tmp_path):
    """The n-gram path (seqtext.classifier.ngrams) reads the word LM's tokens; beside a character LM there is none."""
    assert seqtext.load(one_epoch).network.ngrams is None
    model = _train(data, tmp_path / "clf", [word_lm])
    network = model.network
    assert model.tokenizer.kind == "word" and network.ngrams is not None and network.ngrams.weight.abs().sum() > 0
    ids, lengths = pad_batch([model.encode(t) for t in ("the film was great and fine .", "our show was dull and poor .")])
    with torch.no_grad():
        recurrent, ngrams = network.scores(ids, lengths)
        assert torch.allclose(network(ids, lengths), network.ngrams.recurrent_weight * recurrent + network.ngrams.ngram_weight * ngrams)
    # The path alone separates this data: a polar word in every text.
    assert [p.label for p in model.predict(["the plot was superb and great .", "the acting was awful and weak ."])] == ["1", "0"]


def test_words_the_language_model_never_saw_join_the_vocabulary_at_its_mean_vector(word_lm):
    lm = seqtext.load(word_lm)
    known = lm.tokenizer.itos
    tokenizer = extend_vocabulary(lm.tokenizer, ["the film was zorgful", "zorgful and blim ."])
    assert "bad\ud800" not in extend_vocabulary(lm.tokenizer, ["bad\ud800 escape"]).itos  # no file could hold it
    assert tokenizer.itos == known + ["zorgful", "blim"]  # most frequent first
    assert tokenizer.encode("zorgful blim") == [len(known), len(known) + 1]
    assert extend_vocabulary(lm.tokenizer, ["the film was fine ."]) is lm.tokenizer
    config = ClassifierConfig(tokenizer.vocab_size, 2, embedding_dim=16, hidden_size=32, num_layers=1, cell="lstm",
                              pooling="concat", encoder="lm", directions=["forward"])
    network = LMClassifier(config)
    network.load_language_models([lm.network])
    rows = network.encoders[0].embedding.weight.detach()
    assert torch.equal(rows[: len(known)], lm.network.embedding.weight)
    mean = lm.network.embedding.weight[len(SPECIALS):].mean(0)
    assert torch.allclose(rows[len(known)], mean) and torch.allclose(rows[len(known) + 1], mean)


def test_a_classifier_with_an_extended_vocabulary_saves_loads_and_resumes(data, word_lm, tmp_path):
    """A training word the word LM never saw gets its own id, kept by the saved model and a resumed run."""
    train = tmp_path / "train.txt"
    rows = [f"{label} {text}" for label, text in sentences(160, 1)] + ["1 the film was zorgful and zorgful ."] * 8
    train.write_text("\n".join(rows) + "\n")
    out = tmp_path / "clf"
    train_classifier(str(train), str(data / "dev.txt"), out, ClassifierConfig(0, 0, dropout=0.1, mlp_hidden=16),
                     ClassifierDataOptions(batch_size=16, pretrained_lms=[str(word_lm)], lm_finetune_epochs=0),
                     TrainConfig(epochs=1, lr=5e-3, warmup_steps=2, progress=False))
    lm_words = seqtext.load(word_lm).tokenizer.vocab_size
    model = seqtext.load(out)
    assert "zorgful" not in seqtext.load(word_lm).tokenizer.stoi
    assert model.tokenizer.stoi["zorgful"] >= lm_words and model.network.config.vocab_size == model.tokenizer.vocab_size
    resumed = train_classifier(None, None, out, train=TrainConfig(epochs=2, progress=False), resume=True,
                               given={"train.epochs": "--epochs"})
    assert resumed.tokenizer.itos == model.tokenizer.itos and resumed.metrics["epoch"] in (1, 2)
