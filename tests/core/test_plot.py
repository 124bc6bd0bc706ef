"""`seqtext plot` and `--tensorboard` on real (tiny) training runs: a language model trained
through the command line with --tensorboard, a second one and a classifier trained through the
library; the picture, the event files and every kind of bad input."""

from __future__ import annotations

import json
import shutil
import struct
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from seqtext.cli.main import main
from seqtext.errors import TrainingError

ROOT = Path(__file__).resolve().parents[2]
TINY_LM = ["--hidden", "32", "--embedding-dim", "16", "--layers", "1", "--batch-size", "8", "--bptt", "32",
           "--max-steps", "20", "--eval-every", "5", "--lr", "1e-2", "--warmup-steps", "2", "--quiet", "--device", "cpu"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("plot_corpus") / "small.txt"
    path.write_text((ROOT / "corpora" / "shakespeare.txt").read_text(encoding="utf-8")[:20_000], encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, corpus) -> dict[str, Path]:
    """Three finished runs: lm_a (CLI, --tensorboard), lm_b (CLI, another seed), classifier."""
    from seqtext.classifier.model import ClassifierConfig
    from seqtext.classifier.training import ClassifierDataOptions, train_classifier
    from seqtext.core.trainer import TrainConfig

    base = tmp_path_factory.mktemp("runs")
    runner = CliRunner()
    for name, extra in (("lm_a", ["--tensorboard"]), ("lm_b", ["--seed", "7"])):
        result = runner.invoke(main, ["train", "lm", str(corpus), "-o", str(base / name), *TINY_LM, *extra])
        assert result.exit_code == 0, result.output
    words = {"pos": "good great fine lovely superb", "neg": "bad awful poor dull boring"}
    lines = [f"__label__{label} {' '.join(words[label].split()[(i + k) % 5] for k in range(4))}"
             for i in range(40) for label in ("pos", "neg")]
    data = base / "texts.txt"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    train_classifier(
        str(data), None, base / "classifier", ClassifierConfig(0, 0, embedding_dim=16, hidden_size=16, mlp_hidden=16),
        ClassifierDataOptions(batch_size=8, format="fasttext"),
        TrainConfig(epochs=5, max_steps=12, lr=1e-2, warmup_steps=2, eval_every=4, progress=False, device="cpu"),
    )
    return {"lm_a": base / "lm_a", "lm_b": base / "lm_b", "classifier": base / "classifier"}


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_two_language_models_give_two_lines_per_panel(runs, tmp_path):
    from seqtext.core.plotting import plot_runs, save_plot

    figure = plot_runs([runs["lm_a"], runs["lm_b"]])
    axes = figure.axes
    assert [ax.get_ylabel() for ax in axes] == ["training loss (nats/character)", "validation loss (nats/character)", "learning rate"]
    for ax, steps in zip(axes, ([10, 20], [5, 10, 15, 20], [10, 20])):  # training loss and rate: every logged step
        lines = ax.get_lines()
        assert [line.get_label() for line in lines] == ["lm_a", "lm_b"]
        assert all(list(line.get_xdata()) == steps for line in lines)
    records = [json.loads(line) for line in (runs["lm_a"] / "log.jsonl").read_text().splitlines()]
    assert list(axes[0].get_lines()[0].get_ydata()) == pytest.approx([r["train_loss"] for r in records if "train_loss" in r and "val_loss" not in r])
    assert list(axes[1].get_lines()[0].get_ydata()) == pytest.approx([r["val_loss"] for r in records if "val_loss" in r])
    out = save_plot([runs["lm_a"], runs["lm_b"]], tmp_path / "curves.png", dpi=100)
    assert _png_size(out) == (800, 720)  # 8 x 7.2 inches (three panels) at 100 dpi
    assert out.stat().st_size > 20_000


def test_runs_of_different_kinds_get_their_own_metric_panel(runs):
    from seqtext.core.plotting import plot_runs

    figure = plot_runs([runs["lm_a"], runs["classifier"]])
    labels = [ax.get_ylabel() for ax in figure.axes]
    assert labels == ["training loss (nats/character)", "training loss (nats/text)", "validation loss (nats/character)",
                      "validation accuracy", "learning rate"]
    counts = [[line.get_label() for line in ax.get_lines()] for ax in figure.axes]
    assert counts == [["lm_a"], ["classifier"], ["lm_a"], ["classifier"], ["lm_a", "classifier"]]
    accuracy = figure.axes[3].get_lines()[0].get_ydata()
    assert all(0.0 <= a <= 1.0 for a in accuracy) and len(accuracy) == 3
    # --metric picks the same metric for every run; one that a run never logged is refused
    assert plot_runs([runs["lm_a"], runs["lm_b"]], metric="perplexity").axes[1].get_ylabel() == "validation perplexity (per character)"
    from seqtext.errors import DataError

    with pytest.raises(DataError, match="classifier/log.jsonl has no validation 'perplexity'"):
        plot_runs([runs["lm_a"], runs["classifier"]], metric="perplexity")


def _copy_run(run: Path, target: Path, tokenizer: str | None = None) -> Path:
    shutil.copytree(run, target, ignore=shutil.ignore_patterns("checkpoint.pt", "data", "tensorboard"))
    if tokenizer is not None:
        config = json.loads((target / "run.json").read_text())
        config["data"]["tokenizer"] = tokenizer
        (target / "run.json").write_text(json.dumps(config))
    return target


def test_training_loss_is_drawn_at_every_logged_step(runs, tmp_path):
    """Records without validation metrics are training steps: the training loss and the
    learning rate are drawn at each of them, the validation metric at the evaluations."""
    from seqtext.core.plotting import plot_runs

    run = _copy_run(runs["lm_b"], tmp_path / "stepwise")
    evaluations = [r for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if "val_loss" in r]
    records = []
    for step in range(1, 21):
        records.append({"step": step, "epoch": 1, "lr": 1e-3 * step, "train_loss": 4.5 - step / 100})
        records += [e for e in evaluations if e["step"] == step]
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    train, validation, lr = plot_runs([run]).axes
    assert list(train.get_lines()[0].get_xdata()) == list(range(1, 21))
    assert list(train.get_lines()[0].get_ydata()) == pytest.approx([4.5 - s / 100 for s in range(1, 21)])
    assert list(lr.get_lines()[0].get_xdata()) == list(range(1, 21))
    assert list(validation.get_lines()[0].get_xdata()) == [5, 10, 15, 20]
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[:4]))  # not evaluated yet: training only
    assert [ax.get_ylabel() for ax in plot_runs([run]).axes] == ["training loss (nats/character)", "learning rate"]


def test_a_character_and_a_word_model_get_one_loss_axis_per_unit(runs, tmp_path):
    from seqtext.core.plotting import plot_runs

    word = _copy_run(runs["lm_b"], tmp_path / "words", tokenizer="word")
    pieces = _copy_run(runs["lm_b"], tmp_path / "pieces", tokenizer="sentencepiece")
    figure = plot_runs([runs["lm_a"], word, pieces])
    assert [ax.get_ylabel() for ax in figure.axes] == [
        "training loss (nats/character)", "training loss (nats/word)", "training loss (nats/piece)",
        "validation loss (nats/character)", "validation loss (nats/word)", "validation loss (nats/piece)", "learning rate"]
    assert [[line.get_label() for line in ax.get_lines()] for ax in figure.axes] == [
        ["lm_a"], ["words"], ["pieces"], ["lm_a"], ["words"], ["pieces"], ["lm_a", "words", "pieces"]]


def test_cli_plot(runs, tmp_path):
    out = tmp_path / "c.png"
    result = CliRunner().invoke(main, ["plot", str(runs["lm_a"]), str(runs["classifier"]), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    assert _png_size(out) == (960, 1440)  # five panels at the default 120 dpi


def _error(args) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_bad_runs_are_one_line_errors(runs, tmp_path):
    out = str(tmp_path / "x.png")
    assert "does not exist" in _error(["plot", str(tmp_path / "nowhere"), "-o", out])
    (tmp_path / "file.txt").write_text("x")
    assert "is not a run directory" in _error(["plot", str(tmp_path / "file.txt"), "-o", out])
    (tmp_path / "empty_dir").mkdir()
    assert "is not a training run: it has no log.jsonl or run.json" in _error(["plot", str(tmp_path / "empty_dir"), "-o", out])
    assert "not a training run" in _error(["plot", str(ROOT / "seqtext" / "pretrained" / "shakespeare"), "-o", out])

    started = tmp_path / "started"
    started.mkdir()
    shutil.copy(runs["lm_a"] / "run.json", started / "run.json")
    assert f"{started / 'log.jsonl'} does not exist" in _error(["plot", str(started), "-o", out])
    (started / "log.jsonl").write_text("")
    assert f"{started / 'log.jsonl'} is empty" in _error(["plot", str(started), "-o", out])
    good = (runs["lm_a"] / "log.jsonl").read_text().splitlines()
    (started / "log.jsonl").write_text(good[0] + "\n" + good[1][:40] + "\n")
    assert f"{started / 'log.jsonl'} line 2: not valid JSON" in _error(["plot", str(started), "-o", out])
    (started / "log.jsonl").write_text('{"epoch": 1}\n')
    assert "line 1: not a seqtext log record" in _error(["plot", str(started), "-o", out])

    assert "cannot tell the image format" in _error(["plot", str(runs["lm_a"]), "-o", str(tmp_path / "c.xyz")])
    assert "does not exist" in _error(["plot", str(runs["lm_a"]), "-o", str(tmp_path / "no" / "c.png")])
    assert not (tmp_path / "x.png").exists()


def test_missing_matplotlib_names_the_extra(runs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an install without the extra looks like to import
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    line = _error(["plot", str(runs["lm_a"]), "-o", str(tmp_path / "c.png")])
    assert 'pip install "seqtext[plot]"' in line and "matplotlib" in line


def test_tensorboard_events_hold_the_logged_scalars(runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = runs["lm_a"]
    assert json.loads((run / "run.json").read_text())["train"]["tensorboard"] is True
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "val/loss", "val/perplexity", "val/fresh_loss", "epoch", "elapsed_s"} <= tags
    logged = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    evaluations = [r for r in logged if "val_loss" in r]
    steps = [r for r in logged if "train_loss" in r and "val_loss" not in r]  # training records: these draw train/ curves
    for tag, key, records in (("val/loss", "val_loss", evaluations), ("train/loss", "train_loss", steps), ("train/lr", "lr", steps)):
        scalars = events.Scalars(tag)
        assert records and [s.step for s in scalars] == [r["step"] for r in records]
        assert [s.value for s in scalars] == pytest.approx([r[key] for r in records], rel=1e-6)
    assert not (runs["lm_b"] / "tensorboard").exists()  # only when asked for


def test_tensorboard_resumed_run_keeps_one_curve(corpus, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    first = [a if a != "20" else "10" for a in TINY_LM]  # --max-steps 10
    runner = CliRunner()
    assert runner.invoke(main, ["train", "lm", str(corpus), "-o", str(out), *first, "--tensorboard"]).exit_code == 0
    result = runner.invoke(main, ["train", "lm", "-o", str(out), "--resume", "--max-steps", "20", "--quiet"])
    assert result.exit_code == 0, result.output
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert [s.step for s in events.Scalars("val/loss")] == [5, 10, 15, 20]  # the first session's steps kept, none twice


def test_tensorboard_missing_is_one_error_before_training(corpus, tmp_path, monkeypatch):
    from seqtext.core.trainer import TrainConfig
    from seqtext.lm.model import LMConfig
    from seqtext.lm.training import LMDataOptions, train_language_model

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(TrainingError, match=r'train\.tensorboard needs the tensorboard package.*pip install "seqtext\[plot\]"'):
        train_language_model([str(corpus)], tmp_path / "run", LMConfig(0, embedding_dim=8, hidden_size=8, num_layers=1, dropout=0.0),
                             LMDataOptions(batch_size=4, bptt=16),
                             TrainConfig(max_steps=2, tensorboard=True, progress=False, device="cpu"))
    assert not (tmp_path / "run" / "log.jsonl").exists()
