"""Regression tests for what makes seqtext safe to leave running and to script: run
directories (refusal, --overwrite, the lock, resume overrides, damaged files), option values
that must be refused before any work, bounded memory, the NaN guard, behaving as a Unix tool
(closed pipes, Ctrl-C, --debug), leaving the process as it was found, and exact LM scoring.

Every model trained here is tiny (hidden 16, a few steps) on a 20,000-character slice of the
shipped corpus; subprocesses run with one thread.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from seqtext.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SHAKESPEARE = ROOT / "corpora" / "shakespeare.txt"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
PYTHON_CLI = [sys.executable, "-m", "seqtext.cli.main"]
SCRIPT = Path(sys.executable).parent / "seqtext"
SEQTEXT = str(SCRIPT) if SCRIPT.is_file() else " ".join(PYTHON_CLI)  # the installed command, for shell pipelines
TINY = ["--hidden", "16", "--embedding-dim", "8", "--layers", "1", "--dropout", "0", "--batch-size", "8",
        "--bptt", "32", "--warmup-steps", "2", "--checkpoint-every", "4"]


# -- helpers -------------------------------------------------------------------------------------
def cli(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def train_lm(corpus, out, *extra):
    return cli("train", "lm", corpus, "-o", out, *TINY, *extra)


def step_of(run_dir: Path) -> int:
    return torch.load(Path(run_dir) / "checkpoint.pt", weights_only=True)["progress"]["step"]


def assert_one_error_line(result, *needles):
    """Exit 1, stderr exactly one ``Error:`` line containing every needle, no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not an uncaught exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def snapshot(directory: Path) -> dict:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def dead_pid() -> int:
    """The PID of a process that has exited and been reaped."""
    for _ in range(20):
        child = subprocess.Popen(["true"])
        child.wait()
        try:
            os.kill(child.pid, 0)
        except ProcessLookupError:
            return child.pid
    pytest.skip("could not find a free PID")


def run_shell(script: str, cwd, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=ENV, capture_output=True, encoding="utf-8", errors="replace",
                          timeout=timeout)


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The in-process training here is tiny; one thread is faster on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("trust_corpus") / "shakespeare_20k.txt"
    path.write_text(SHAKESPEARE.read_text(encoding="utf-8")[:20_000], encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, corpus) -> Path:
    """A finished 20-step run through the command line; tests copy it before changing it."""
    out = tmp_path_factory.mktemp("trust_runs") / "finished"
    result = train_lm(corpus, out, "--max-steps", 20, "--quiet")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert step_of(out) == 20
    return out


@pytest.fixture
def run_copy(finished_run, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


@pytest.fixture(scope="module")
def micro_lm(finished_run) -> Path:
    return finished_run


@pytest.fixture(scope="module")
def endless_lm(tmp_path_factory, finished_run) -> Path:
    """The tiny model with <eos> made impossible, so that it generates until --max-length."""
    import seqtext
    from seqtext.text.tokenizers import EOS

    lm = seqtext.load(finished_run)
    with torch.no_grad():
        lm.network.decoder.bias[EOS] = -1e4
    out = tmp_path_factory.mktemp("trust_models") / "endless"
    lm.save(out)
    return out


# -- 1. run directories --------------------------------------------------------------------------
def test_fresh_run_into_nonempty_dir_is_refused_and_leaves_files_untouched(run_copy, corpus):
    before = snapshot(run_copy)
    result = train_lm(corpus, run_copy, "--max-steps", 3, "--quiet")
    assert_one_error_line(result, "--overwrite", "not empty")
    assert snapshot(run_copy) == before
    assert (run_copy / "model.safetensors").read_bytes() == before["model.safetensors"]


def test_fresh_run_into_dir_with_user_files_is_refused(tmp_path, corpus):
    (tmp_path / "notes.txt").write_text("mine")
    assert_one_error_line(train_lm(corpus, tmp_path, "--max-steps", 3, "--quiet"), "--overwrite")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_overwrite_replaces_the_run(run_copy, corpus):
    old_weights = (run_copy / "model.safetensors").read_bytes()
    result = train_lm(corpus, run_copy, "--max-steps", 6, "--seed", 5, "--quiet", "--overwrite")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert step_of(run_copy) == 6
    assert (run_copy / "model.safetensors").read_bytes() != old_weights
    assert json.loads((run_copy / "run.json").read_text())["train"]["max_steps"] == 6


def test_resume_with_overwrite_is_refused(run_copy, corpus):
    before = snapshot(run_copy)
    result = cli("train", "lm", "-o", run_copy, "--resume", "--overwrite", "--quiet")
    assert_one_error_line(result, "--resume", "--overwrite")
    assert snapshot(run_copy) == before


# -- 2. the lock ---------------------------------------------------------------------------------
def test_lock_of_live_process_refuses_training_and_names_pid(tmp_path, corpus):
    holder = subprocess.Popen(["sleep", "30"])
    try:
        lock = tmp_path / ".seqtext.lock"
        lock.write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname()}))
        result = train_lm(corpus, tmp_path, "--max-steps", 3, "--quiet")
        assert_one_error_line(result, f"PID {holder.pid}")
        assert json.loads(lock.read_text())["pid"] == holder.pid  # the holder's lock stays
        assert [p.name for p in tmp_path.iterdir()] == [".seqtext.lock"]  # nothing written
    finally:
        holder.kill()
        holder.wait()


def test_stale_lock_is_taken_over_and_removed_at_the_end(tmp_path, corpus):
    lock = tmp_path / ".seqtext.lock"
    lock.write_text(json.dumps({"pid": dead_pid(), "host": socket.gethostname()}))
    result = train_lm(corpus, tmp_path, "--max-steps", 3, "--quiet")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert step_of(tmp_path) == 3
    assert not lock.exists()


# -- 3. resume overrides -------------------------------------------------------------------------
def test_resume_with_larger_max_steps_continues_to_it(run_copy):
    result = cli("train", "lm", "-o", run_copy, "--resume", "--max-steps", 40)
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "resuming at step 20" in result.stderr
    assert step_of(run_copy) == 40
    assert json.loads((run_copy / "run.json").read_text())["train"]["max_steps"] == 40


def test_resume_refuses_a_changed_model_option_naming_it(run_copy):
    before = snapshot(run_copy)
    result = cli("train", "lm", "-o", run_copy, "--resume", "--hidden", 64, "--quiet")
    assert_one_error_line(result, "--hidden", "64")
    assert snapshot(run_copy) == before


@pytest.mark.parametrize(
    "option, field, value",
    [(["--epochs", "3"], "epochs", 3), (["--patience", "2"], "patience", 2), (["--quiet"], "progress", False)],
)
def test_resume_accepts_length_and_reporting_options(run_copy, option, field, value):
    result = cli("train", "lm", "-o", run_copy, "--resume", *option)
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert json.loads((run_copy / "run.json").read_text())["train"][field] == value
    assert step_of(run_copy) == 20  # max_steps 20 is still in force: nothing more to do


def _first_sentences(path: Path, count: int) -> str:
    blocks = [b for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip() and not b.startswith("-DOCSTART-")]
    return "\n\n".join(blocks[:count]) + "\n"


def test_tagger_resume_needs_no_train_files(shared_data, tmp_path):
    data = tmp_path / "train.conll"
    data.write_text(_first_sentences(shared_data / "conllpp" / "train.txt", 300), encoding="utf-8")
    out = tmp_path / "tagger"
    tiny = ["--hidden", 16, "--word-dim", 16, "--char-dim", 8, "--char-hidden", 8, "--batch-size", 32, "--quiet"]
    result = cli("train", "tagger", data, "-o", out, *tiny, "--max-steps", 2)
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert step_of(out) == 2
    result = cli("train", "tagger", "--resume", "-o", out, "--max-steps", 4, "--quiet")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert step_of(out) == 4


def test_classifier_resume_needs_no_train_files(shared_data, tmp_path):
    lines = (shared_data / "sst2" / "sentences.train").read_text(encoding="utf-8").splitlines()[:400]
    data = tmp_path / "sst.txt"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "classifier"
    tiny = ["--format", "label-text", "--hidden", 16, "--embedding-dim", 16, "--batch-size", 32, "--quiet"]
    result = cli("train", "classifier", data, "-o", out, *tiny, "--max-steps", 2)
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert step_of(out) == 2
    result = cli("train", "classifier", "--resume", "-o", out, "--max-steps", 4, "--quiet")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert step_of(out) == 4


# -- 4. damaged run directories ------------------------------------------------------------------
def test_resume_with_truncated_checkpoint_is_one_line_error(run_copy):
    checkpoint = run_copy / "checkpoint.pt"
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: len(data) // 2])
    result = cli("train", "lm", "-o", run_copy, "--resume", "--max-steps", 30, "--quiet")
    assert_one_error_line(result, "checkpoint.pt")


def test_resume_with_run_json_not_json_is_one_line_error(run_copy):
    (run_copy / "run.json").write_text('{"kind": "language_model", "model": {', encoding="utf-8")
    result = cli("train", "lm", "-o", run_copy, "--resume", "--max-steps", 30, "--quiet")
    assert_one_error_line(result, "run.json")


# -- 5. option values ----------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["train", "generate"])
def test_seed_beyond_64_bits_is_a_usage_error(command, corpus, micro_lm, tmp_path):
    huge = str(2**64)
    if command == "train":
        result = cli("train", "lm", corpus, "-o", tmp_path / "out", "--seed", huge, "--quiet")
    else:
        result = cli("generate", "x", "-m", micro_lm, "--seed", huge)
    assert result.exit_code == 2, (result.stderr, result.exception)
    assert "--seed" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_nan_and_inf_temperature_are_usage_errors(value, micro_lm):
    result = cli("generate", "x", "-m", micro_lm, "--temperature", value)
    assert result.exit_code == 2, (result.stderr, result.exception)
    assert "--temperature" in result.stderr and result.stdout == ""


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_nan_and_inf_learning_rate_are_usage_errors(value, corpus, tmp_path):
    result = cli("train", "lm", corpus, "-o", tmp_path / "out", "--lr", value, "--quiet")
    assert result.exit_code == 2, (result.stderr, result.exception)
    assert "--lr" in result.stderr
    assert not (tmp_path / "out").exists()


def test_huge_network_is_refused_with_memory_estimate_without_allocating(corpus, tmp_path):
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    result = train_lm(corpus, tmp_path / "out", "--hidden", 1_000_000, "--layers", 4, "--quiet")
    line = assert_one_error_line(result, "GiB", "--hidden")
    assert time.monotonic() - started < 30
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 500_000  # KiB: nothing allocated
    assert not (tmp_path / "out" / ".seqtext.lock").exists()
    assert "parameters" in line


def test_huge_num_samples_is_refused_with_memory_estimate_without_allocating(micro_lm):
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    result = cli("generate", "x", "-m", micro_lm, "--num-samples", 10_000_000)
    assert_one_error_line(result, "GiB", "10,000,000")
    assert time.monotonic() - started < 20
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 200_000  # KiB


def test_beam_size_beyond_64_is_a_usage_error_at_once(micro_lm):
    started = time.monotonic()
    result = cli("generate", "x", "-m", micro_lm, "--beam-size", 100_000)
    assert result.exit_code == 2, (result.stderr, result.exception)
    assert "--beam-size" in result.stderr and "64" in result.stderr
    assert time.monotonic() - started < 5


# -- 6. a huge seed ------------------------------------------------------------------------------
PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[1:])\n"
    "print('maxrss_kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


@pytest.mark.slow
def test_ten_megabyte_seed_from_stdin_runs_in_bounded_memory(micro_lm, tmp_path):
    text = SHAKESPEARE.read_text(encoding="utf-8")[:20_000]
    seed = (text * (10_000_000 // len(text) + 1))[:10_000_000]
    seed_file = tmp_path / "seed.txt"
    seed_file.write_text(seed, encoding="utf-8")
    with open(seed_file, "rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-c", PEAK_RSS, *PYTHON_CLI, "generate", "-", "-m", str(micro_lm), "-n", "5", "--seed", "1"],
            stdin=stdin, capture_output=True, env=ENV, timeout=120,
        )
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr[-2000:]
    out = done.stdout.decode()
    assert out.startswith(seed[:1000]) and len(out) >= len(seed)
    peak_kib = int(stderr.split("maxrss_kib")[-1].split()[0])
    assert peak_kib < 1.5 * 2**20, f"peak RSS {peak_kib / 2**20:.2f} GiB"


# -- 7. the NaN guard and overflowing perplexity -------------------------------------------------
def test_nan_loss_before_first_checkpoint_says_there_is_none(corpus, tmp_path):
    from seqtext.core.trainer import TrainConfig
    from seqtext.errors import SeqtextError, TrainingError
    from seqtext.lm.model import LMConfig
    from seqtext.lm.training import LMDataOptions, train_language_model

    def poison(trainer):
        if trainer.step == 1:  # the first checkpoint would come at step 4
            with torch.no_grad():
                trainer.network.decoder.bias.fill_(float("nan"))

    out = tmp_path / "nan"
    with pytest.raises(TrainingError, match=r"loss became nan at step 2.*(no checkpoint|none to resume)") as caught:
        train_language_model(
            [str(corpus)], out, LMConfig(vocab_size=0, embedding_dim=8, hidden_size=16, num_layers=1, dropout=0.0),
            LMDataOptions(batch_size=8, bptt=32), TrainConfig(epochs=1, max_steps=20, warmup_steps=2, checkpoint_every=4,
                                                              progress=False), on_step=poison,
        )
    message = str(caught.value)
    assert "kept" not in message and "checkpoint.pt" not in message  # no promise of a checkpoint
    assert isinstance(caught.value, SeqtextError)  # the command line prints it as one line, exit 1
    assert not (out / "checkpoint.pt").exists()
    assert not (out / ".seqtext.lock").exists()


def test_overflowing_validation_loss_gives_infinite_perplexity():
    from seqtext.lm.model import LanguageModel, LMConfig, RecurrentLM
    from seqtext.lm.scoring import evaluate_language_model
    from seqtext.text.tokenizers import PAD, CharTokenizer

    tokenizer = CharTokenizer.train(["abcdef ghij"])
    network = RecurrentLM(LMConfig(vocab_size=tokenizer.vocab_size, embedding_dim=8, hidden_size=16, num_layers=1, dropout=0.1))
    with torch.no_grad():
        network.decoder.bias.zero_()
        network.decoder.bias[PAD] = 1e4  # never a target: every real token costs about 1e4 nats
    result = evaluate_language_model(LanguageModel(network, tokenizer), [["abc def", "ghij"]])
    assert math.isfinite(result["cross_entropy"]) and result["cross_entropy"] > 700
    assert result["perplexity"] == math.inf
    assert result["word_perplexity"] == math.inf


# -- 8. a Unix tool: closed pipes and Ctrl-C -----------------------------------------------------
def _many_lines(path: Path, line: str, count: int) -> Path:
    path.write_text(line * count, encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["generate", "classify", "tag"])
def test_closed_pipe_exits_141_with_nothing_on_stderr(kind, endless_lm, tmp_path):
    if kind == "generate":
        command = f"{SEQTEXT} generate -m {endless_lm} -n 100000 --seed 1"
    elif kind == "classify":
        lines = _many_lines(tmp_path / "texts.txt", "a gorgeous, witty, seductive movie.\n", 20_000)
        command = f"{SEQTEXT} classify - < {lines}"
    else:
        lines = _many_lines(tmp_path / "texts.txt", "Angela Merkel visited Paris on Tuesday.\n", 5_000)
        command = f"{SEQTEXT} tag - --model ner < {lines}"
    done = run_shell(f'set -o pipefail; {command} | head -c 20; echo "rc=${{PIPESTATUS[0]}}"', tmp_path)
    assert done.stdout.endswith("rc=141\n"), (done.stdout, done.stderr)
    assert len(done.stdout) == 20 + len("rc=141\n")
    assert done.stderr == "", done.stderr


def _evaluated(run_dir: Path) -> bool:
    log = run_dir / "log.jsonl"
    return log.exists() and '"val_' in log.read_text(encoding="utf-8")


@pytest.mark.slow
def test_ctrl_c_writes_checkpoint_exits_130_and_resume_continues(corpus, tmp_path):
    out = tmp_path / "run"
    command = [*PYTHON_CLI, "train", "lm", str(corpus), "-o", str(out), *TINY, "--max-steps", "100000", "--epochs", "1000",
               "--checkpoint-every", "1000", "--eval-every", "5", "--quiet"]
    with open(tmp_path / "stderr.txt", "w+") as err:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=ENV)
        try:
            deadline = time.monotonic() + 90
            # log.jsonl opens with the plan; an evaluation record holds val_ metrics.
            while not _evaluated(out) and child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert child.poll() is None, "training ended before it could be interrupted"
            assert _evaluated(out), "no evaluation within 90 s"
            child.send_signal(signal.SIGINT)
            rc = child.wait(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        err.seek(0)
        stderr = err.read()
    assert rc == 130, stderr
    assert "Traceback" not in stderr
    said = re.search(r"Interrupted: interrupted at step (\d+); checkpoint saved", stderr)
    assert said, stderr
    assert not (out / ".seqtext.lock").exists()
    stopped = step_of(out)  # the checkpoint is the one written on Ctrl-C, at the step it names
    assert stopped == int(said.group(1)) >= 5
    result = cli("train", "lm", "-o", out, "--resume", "--max-steps", stopped + 3)
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert f"resuming at step {stopped}" in result.stderr
    assert step_of(out) == stopped + 3


# -- 9. process state ----------------------------------------------------------------------------
def test_generation_never_touches_the_onednn_switch_also_after_an_error(micro_lm, monkeypatch):
    """Decoding must not flip oneDNN off and on around each step: the switch is process-wide, so
    a training or scoring thread running beside generation would be slowed or changed."""
    import seqtext
    from seqtext.errors import SeqtextError

    lm = seqtext.load(micro_lm)
    flips = []
    real = torch._C._set_mkldnn_enabled
    monkeypatch.setattr(torch._C, "_set_mkldnn_enabled", lambda enabled: (flips.append(enabled), real(enabled))[1])
    assert torch._C._get_mkldnn_enabled()
    lm.generate("ROMEO:", max_length=10, temperature=0.8, seed=1)
    lm.generate("ROMEO:", max_length=10, num_samples=3, seed=1)
    pieces = lm.stream("ROMEO:", max_length=10, seed=1)
    next(pieces)
    assert torch._C._get_mkldnn_enabled()  # also while a stream is suspended half-way
    list(pieces)
    lm.generate("ROMEO:", max_length=10, beam_size=2)
    assert torch._C._get_mkldnn_enabled()
    with pytest.raises(SeqtextError, match="top_p"):
        lm.generate("ROMEO:", max_length=10, top_p=1.5)
    assert torch._C._get_mkldnn_enabled()
    assert flips == []


def test_cli_restores_the_warning_display(micro_lm, monkeypatch):
    def own_display(message, category, filename, lineno, file=None, line=None):
        pass

    monkeypatch.setattr(warnings, "showwarning", own_display)  # what a host program had installed
    result = cli("generate", "ROMEO 你好", "-m", micro_lm, "-n", 3, "--seed", 1)
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "Warning: the model does not know" in result.stderr
    assert warnings.showwarning is own_display


@pytest.mark.slow
def test_read_texts_leaves_the_environment_alone(corpus, tmp_path):
    """In a fresh process, so that an earlier call in this one cannot hide a first-call change.

    The third-party modules that ``datasets.load_dataset`` imports are imported before the
    snapshot: threadpoolctl (imported by scipy.io, which datasets' streaming patches import)
    sets KMP_DUPLICATE_LIB_OK on import, which is its doing, not seqtext's."""
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"text": "one"}\n{"text": "two"}\n', encoding="utf-8")
    probe = (
        "import importlib, json, os, sys\n"
        "for name in ('datasets', 'scipy.io', 'pandas', 'pyarrow.parquet'):\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError:\n"
        "        pass\n"
        "before = dict(os.environ)\n"
        "from seqtext.core.files import read_texts\n"
        "read_texts([sys.argv[1]]); read_texts([sys.argv[2]]); read_texts([sys.argv[1]], by_line=True)\n"
        "after = dict(os.environ)\n"
        "print(json.dumps({k: [before.get(k), after.get(k)] for k in set(before) | set(after) if before.get(k) != after.get(k)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(corpus), str(rows)], capture_output=True, text=True, env=ENV,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {}


# -- 10. --debug ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_debug_shows_the_traceback_and_plain_run_one_error_line(tmp_path):
    missing = ["generate", "x", "-m", "no-such-model"]
    debug = subprocess.run([*PYTHON_CLI, "--debug", *missing], capture_output=True, text=True, env=ENV, cwd=tmp_path,
                           timeout=120)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "no-such-model" in debug.stderr and debug.stdout == ""
    plain = subprocess.run([*PYTHON_CLI, *missing], capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=120)
    assert plain.returncode == 1
    lines = plain.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "no-such-model" in lines[0], plain.stderr
    assert "Traceback" not in plain.stderr and plain.stdout == ""


# -- 11. exact LM scoring ------------------------------------------------------------------------
def test_evaluate_batch_size_never_changes_lm_scores(micro_lm, tmp_path):
    lines = [line for line in SHAKESPEARE.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [" ".join(lines[i : i + 1 + i % 5]) for i in range(0, 400, 10)]  # 40 rows, 1 to 5 lines each
    assert len(rows) == 40 and len({len(r) for r in rows}) > 20
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"text": r}) + "\n" for r in rows), encoding="utf-8")
    scores = []
    for batch_size in (1, 7):
        result = cli("evaluate", micro_lm, data, "--batch-size", batch_size, "--json")
        assert result.exit_code == 0, (result.stderr, result.exception)
        scores.append(json.loads(result.stdout))
    one, seven = scores
    assert one["documents"] == seven["documents"] == 40
    expected_tokens = sum(len(r) for r in rows) + len(rows)  # every character and one <eos> per row
    assert one["tokens"] == seven["tokens"] == expected_tokens
    assert one["characters"] == sum(len(r) for r in rows)
    assert seven["cross_entropy"] == pytest.approx(one["cross_entropy"], rel=1e-6)
    assert seven["perplexity"] == pytest.approx(one["perplexity"], rel=1e-5)


# -- found in review --------------------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"", b"hello\n"])
def test_empty_or_foreign_checkpoint_is_one_line_error(run_copy, content):
    (run_copy / "checkpoint.pt").write_bytes(content)
    assert_one_error_line(cli("train", "lm", "-o", run_copy, "--resume", "--quiet"), "checkpoint.pt")


@pytest.mark.parametrize("edit", [{"derived": {}}, {"derived": []}, {"files": 5}, {"format_version": "x"}])
def test_run_json_of_the_wrong_shape_is_one_line_error(run_copy, edit):
    saved = json.loads((run_copy / "run.json").read_text())
    (run_copy / "run.json").write_text(json.dumps({**saved, **edit}))
    assert_one_error_line(cli("train", "lm", "-o", run_copy, "--resume", "--quiet"), "run.json")


def test_damaged_id_file_is_refused_on_resume(run_copy):
    data = run_copy / "data" / "all.bin"
    data.write_bytes(data.read_bytes()[:100])
    assert_one_error_line(cli("train", "lm", "-o", run_copy, "--resume", "--quiet"), "all.bin", "damaged")


@pytest.mark.parametrize("option", [["--val-file", "x.txt"], ["--init-from", "shakespeare"]])
def test_options_that_cannot_change_on_resume_are_refused(run_copy, option):
    assert_one_error_line(cli("train", "lm", "-o", run_copy, "--resume", "--quiet", *option), option[0], "--resume")


def test_run_resumes_from_another_working_directory(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(corpus.parent)
    out = tmp_path / "relative"
    assert train_lm(corpus.name, out, "--max-steps", 4, "--quiet").exit_code == 0
    monkeypatch.chdir(tmp_path)
    result = cli("train", "lm", "-o", out, "--resume", "--max-steps", 6, "--quiet")
    assert result.exit_code == 0, result.stderr
    assert step_of(out) == 6


@pytest.mark.parametrize("options", [["-t", "1e-300"], ["-t", "1e300", "-s", "2"]])
def test_extreme_temperatures_are_refused(micro_lm, options):
    result = cli("generate", "x", "-m", micro_lm, "-n", "3", *options)
    assert result.exit_code in (1, 2) and "Traceback" not in result.stderr and "temperature" in result.stderr.lower()


def test_generation_from_nan_weights_is_one_line_error(micro_lm, tmp_path):
    import seqtext

    lm = seqtext.load(micro_lm)
    with torch.no_grad():
        lm.network.decoder.bias.fill_(float("nan"))
    lm.save(tmp_path / "nan")
    assert_one_error_line(cli("generate", "x", "-m", tmp_path / "nan", "-n", "3"), "not finite")


@pytest.mark.parametrize("lock", ["dir", '{"pid": 99999999999999999999, "host": "HOST"}'])
def test_odd_lock_files_never_give_a_traceback(corpus, tmp_path, lock):
    out = tmp_path / "locked"
    out.mkdir()
    if lock == "dir":
        (out / ".seqtext.lock").mkdir()
        assert_one_error_line(train_lm(corpus, out, "--max-steps", 2, "--quiet"), ".seqtext.lock")
    else:
        (out / ".seqtext.lock").write_text(lock.replace("HOST", socket.gethostname()))
        assert train_lm(corpus, out, "--max-steps", 2, "--quiet").exit_code == 0  # not a live PID: stale


def test_label_alias_for_a_label_nobody_has_is_refused(tmp_path):
    train = tmp_path / "cls.txt"
    train.write_text("".join(f"{i % 2} {'good fine' if i % 2 else 'bad awful'} film {i}\n" for i in range(40)))
    result = cli("train", "classifier", train, "-o", tmp_path / "co", "--max-steps", 2, "--quiet",
                 "--label-names", "0=neg,1=pos,2=neutral")
    assert_one_error_line(result, "--label-names", "'2'")
