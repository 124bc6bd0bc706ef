"""Training to a budget (#23 items 1 and 4): ``--max-time`` takes durations, a run given no limit
trains for a default budget, the plan line before the first step (measured speed, passes, end),
a budget honoured within 10 %, a probe that leaves training bit for bit as it was, and progress
that draws a bar only on a terminal, counting the budget's seconds when the clock ends the run.

Every model here is tiny (hidden 16) on a 20,000-character slice of the shipped corpus."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from seqtext import configs
from seqtext.cli.main import main
from seqtext.cli.options import Duration
from seqtext.configs import BY_BUDGET, DEFAULT_BUDGET, TrainConfig, parse_duration, settle_by_kind
from seqtext.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--hidden", "16", "--embedding-dim", "8", "--layers", "1", "--dropout", "0", "--batch-size", "8", "--bptt", "32",
        "--warmup-steps", "2"]
PLAN = re.compile(r"^plan: char-token language model of [\d,]+ parameters, [\d,]+ characters/s measured on this machine; "
                  r"(?P<limit>.+); done at about \d\d:\d\d", re.MULTILINE)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("budget_corpus") / "shakespeare_20k.txt"
    path.write_text((ROOT / "corpora" / "shakespeare.txt").read_text(encoding="utf-8")[:20_000], encoding="utf-8")
    return path


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def plan_record(run_dir: Path) -> dict:
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    plans = [r["plan"] for r in records if "plan" in r]
    assert len(plans) == 1, plans
    return plans[0]


# -- durations -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, seconds", [(300, 300), ("300", 300), ("90s", 90), ("5m", 300), ("1h", 3600),
                                           ("1h30m", 5400), ("2m30s", 150), ("1.5h", 5400), (" 1h 30m ", 5400), (0.5, 0.5)])
def test_durations_read_as_seconds_by_the_library_and_the_option(text, seconds):
    assert parse_duration(text) == seconds
    assert TrainConfig(max_time=text).max_time == seconds  # the Python API takes a number or the same strings
    assert Duration().convert(str(text), None, None) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m5", "1h30", "5m5m", "-5", "0", "0s", "nan", "inf", "1e3", True])
def test_other_durations_are_refused_naming_the_field(text):
    with pytest.raises(ConfigError, match=r"^train\.max_time must be"):
        parse_duration(text)


def test_a_wrong_max_time_is_a_usage_error_naming_the_option(corpus, tmp_path):
    result = cli("train", "lm", corpus, "-o", tmp_path / "run", "--max-time", "5x")
    assert result.exit_code == 2, result.output
    assert "--max-time" in result.stderr and "'5x' is not a duration" in result.stderr
    assert not (tmp_path / "run").exists()


# -- default limits ------------------------------------------------------------------------------
def test_no_limit_given_trains_for_the_default_budget_and_a_given_one_wins():
    lm = settle_by_kind(TrainConfig(), "language_model")
    assert (lm.max_time, lm.epochs, lm.max_steps) == (DEFAULT_BUDGET["language_model"], BY_BUDGET, None)
    tagger, classifier = settle_by_kind(TrainConfig(), "tagger"), settle_by_kind(TrainConfig(), "classifier")
    assert (tagger.schedule, classifier.schedule, lm.schedule) == ("cosine", "cosine", None)  # an LM's comes with its size
    assert (tagger.max_time, tagger.epochs) == (DEFAULT_BUDGET["tagger"], 14)  # their epochs, within the budget
    assert (classifier.max_time, classifier.epochs) == (DEFAULT_BUDGET["classifier"], 10)
    # The user's limits win, and a budget alone runs as many epochs as it allows.
    assert (settle_by_kind(TrainConfig(max_time="5m"), "tagger").epochs, settle_by_kind(TrainConfig(max_time=60), "tagger").max_time) == (BY_BUDGET, 60)
    assert settle_by_kind(TrainConfig(epochs=3), "language_model").max_time is None
    only_steps = settle_by_kind(TrainConfig(max_steps=50), "language_model")
    assert (only_steps.max_time, only_steps.epochs, only_steps.max_steps) == (None, configs.EPOCHS_OTHERWISE, 50)


def test_the_default_budget_is_said_in_the_plan_with_the_flag_that_changes_it(corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(DEFAULT_BUDGET, "language_model", 0.5)  # the default, made short
    result = cli("train", "lm", corpus, "-o", tmp_path / "run", *TINY)
    assert result.exit_code == 0, (result.stderr, result.exception)
    plan = PLAN.search(result.stderr)
    assert plan, result.stderr
    assert plan["limit"].startswith("the 0.5 s budget (default) allows about ")
    assert plan.group(0) + "; --max-time sets another budget" in result.stderr
    assert json.loads((tmp_path / "run" / "run.json").read_text())["train"]["max_time"] == 0.5


# -- the plan and the budget ---------------------------------------------------------------------
BUDGET = 8.0
STARTUP_ALLOWANCE = 3.0  # command start to the plan's clock: 0.2-0.4 s measured here (reading, tokenizer, network)


@pytest.mark.slow
def test_the_plan_line_comes_first_and_the_budget_is_honoured_within_ten_percent(corpus, tmp_path):
    started = time.time()
    result = cli("train", "lm", corpus, "-o", tmp_path / "run", *TINY, "--max-time", f"{BUDGET:g}s")
    ended = time.time()
    assert result.exit_code == 0, (result.stderr, result.exception)
    plan = PLAN.search(result.stderr)
    assert plan, result.stderr
    assert re.fullmatch(r"the 8 s budget allows about [\d.]+ passes over the 18,002 training characters", plan["limit"])
    assert result.stderr.index("plan: ") < result.stderr.index("step ")  # before the first step's report
    record = plan_record(tmp_path / "run")
    assert record["limit"] == "time" and record["items_per_second"] > 0 and record["probe_steps"] >= 1
    startup = record["started"] - started
    assert 0 <= startup < STARTUP_ALLOWANCE, startup
    # The budget's clock starts with the probe and keeps the last evaluation inside it.
    assert 0.9 * BUDGET <= ended - record["started"] <= 1.1 * BUDGET, (startup, ended - record["started"])


def _train_tiny_lm(corpus, out, **train):
    from seqtext.lm.model import LMConfig
    from seqtext.lm.training import LMDataOptions, train_language_model

    return train_language_model([str(corpus)], out, LMConfig(vocab_size=0, embedding_dim=8, hidden_size=16, num_layers=1, dropout=0.3),
                                LMDataOptions(batch_size=8, bptt=32),
                                TrainConfig(**{"warmup_steps": 2, "progress": False, "seed": 3, "eval_every": 10, **train}))


def test_the_probe_leaves_training_bit_for_bit_as_without_it(corpus, tmp_path, monkeypatch):
    """Dropout, AdamW's moments, the carried hidden state: all put back after the probe's steps."""
    from seqtext.core.trainer import Trainer

    probed = _train_tiny_lm(corpus, tmp_path / "probed", max_steps=25)
    assert plan_record(tmp_path / "probed")["probe_steps"] >= 1
    monkeypatch.setattr(Trainer, "_probe", lambda self: (0, 0.0, 0.0, 0.0))
    plain = _train_tiny_lm(corpus, tmp_path / "plain", max_steps=25)
    weights = torch.load(tmp_path / "probed" / "checkpoint.pt", weights_only=True)["network"]
    without = torch.load(tmp_path / "plain" / "checkpoint.pt", weights_only=True)["network"]
    for name, value in weights.items():
        assert torch.equal(value, without[name]), name
    assert probed.metrics["loss"] == plain.metrics["loss"]


def test_a_resumed_run_takes_a_new_max_time_as_a_duration(corpus, tmp_path):
    out = tmp_path / "run"
    assert cli("train", "lm", corpus, "-o", out, *TINY, "--max-steps", 4, "--quiet").exit_code == 0
    result = cli("train", "lm", "-o", out, "--resume", "--max-time", "1m")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert json.loads((out / "run.json").read_text())["train"]["max_time"] == 60.0
    assert "already finished" in result.stderr and "--max-time" in result.stderr  # max_steps 4 still ends it


# -- progress ------------------------------------------------------------------------------------
def test_without_a_terminal_no_bar_and_one_line_per_evaluation(corpus, tmp_path):
    result = cli("train", "lm", corpus, "-o", tmp_path / "run", *TINY, "--max-steps", 30, "--eval-every", 10)
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "\r" not in result.stderr and "\r" not in result.stdout
    evaluations = [line for line in result.stderr.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in evaluations] == ["10", "20", "30"]
    assert all(re.search(r"; \d+ of 30 steps(, about .+ left)?$", line) for line in evaluations), evaluations
    assert result.stderr.count("plan: ") == 1
    assert json.loads((tmp_path / "run" / "run.json").read_text())["train"]["progress"] is False


def test_the_bar_counts_the_budget_seconds_or_the_steps(corpus, tmp_path, capsys):
    _train_tiny_lm(corpus, tmp_path / "timed", max_time=1.0, progress=True)
    timed = capsys.readouterr().err
    assert re.search(r"\| *\d+/1 s \[", timed), timed[-500:]
    _train_tiny_lm(corpus, tmp_path / "steps", max_steps=20, progress=True)
    steps = capsys.readouterr().err
    assert re.search(r"\| *20/20 \[", steps), steps[-500:]


def test_a_time_bar_shows_the_budget_left(capsys):
    from seqtext.core.progress import time_bar

    bar = time_bar(True, 100.0, 40.0)  # 40 s of a 100 s budget spent in earlier sessions
    time.sleep(0.5)
    bar.update(0.5)
    shown = str(bar)
    bar.close()
    minutes, seconds = map(int, re.search(r"<(\d+):(\d+)", shown).groups())
    assert abs(minutes * 60 + seconds - 59.5) <= 0.2 * 59.5, shown
