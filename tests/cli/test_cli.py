"""Every command through click's CliRunner: exit codes, stdout and stderr kept apart."""

import json

import pytest
from click.testing import CliRunner

from seqtext import __version__
from seqtext.cli.main import main


@pytest.fixture
def runner():
    return CliRunner()


def test_help_lists_commands_and_defaults(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("generate", "evaluate", "models", "train"):
        assert command in result.output
    result = runner.invoke(main, ["generate", "--help"])
    shown = " ".join(result.output.split())  # as read, whatever the wrapping
    assert result.exit_code == 0 and "[default: 500; x>=0]" in shown and "--top-p" in shown
    assert runner.invoke(main, ["train", "lm", "--help"]).exit_code == 0


def test_version(runner):
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_generate_text_and_jsonl(runner, tiny_lm_dir):
    result = runner.invoke(main, ["generate", "ROMEO:", "-m", str(tiny_lm_dir), "-n", "40", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ROMEO:")
    result = runner.invoke(main, ["generate", "ROMEO:", "-m", str(tiny_lm_dir), "-n", "20", "-s", "3", "--format", "jsonl", "--seed", "1"])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0 and len(lines) == 3
    assert {"sample", "prompt", "seed", "text", "tokens", "finish"} <= set(lines[0])
    assert lines[0]["prompt"] == lines[0]["seed"] == "ROMEO:"  # seed: the prompt's old name, kept for one release


def test_generate_text_from_stdin_and_beam(runner, tiny_lm_dir):
    result = runner.invoke(main, ["generate", "-", "-m", str(tiny_lm_dir), "-n", "10", "-t", "0"], input="KING:")
    assert result.exit_code == 0 and result.stdout.startswith("KING:")
    result = runner.invoke(main, ["generate", "KING:", "-m", str(tiny_lm_dir), "-n", "10", "-b", "3", "-s", "2", "--format", "jsonl"])
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 2


def test_generate_stop_string_escapes(runner, tiny_lm_dir):
    args = ["generate", "ROMEO:", "-m", str(tiny_lm_dir), "-n", "200", "-t", "0", "--format", "jsonl"]
    full = json.loads(runner.invoke(main, args).stdout)["text"]
    cut = json.loads(runner.invoke(main, args + ["--stop", "\\n", "--stop", "é"]).stdout)
    assert cut["finish"] == "stop" and cut["text"] == full[: full.index("\n")]


def test_generate_unknown_characters_warn_not_crash(runner, tiny_lm_dir):
    result = runner.invoke(main, ["generate", "ROMEO 你好", "-m", str(tiny_lm_dir), "-n", "5"])
    assert result.exit_code == 0
    assert "Warning: the model does not know '你' '好'" in result.stderr


def test_unknown_model_is_one_line_error(runner):
    result = runner.invoke(main, ["generate", "x", "-m", "no-such-model"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no model named 'no-such-model'")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_usage_errors_exit_2(runner, tiny_lm_dir):
    assert runner.invoke(main, ["generate", "x", "-m", str(tiny_lm_dir), "--temperature", "-1"]).exit_code == 2
    assert runner.invoke(main, ["generate", "x", "--top-p", "1.5"]).exit_code == 2
    assert runner.invoke(main, ["no-such-command"]).exit_code == 2
    assert runner.invoke(main, ["train", "lm"]).exit_code == 2


def test_beam_smaller_than_samples_is_error(runner, tiny_lm_dir):
    result = runner.invoke(main, ["generate", "x", "-m", str(tiny_lm_dir), "-b", "2", "-s", "3"])
    assert result.exit_code == 1 and "cannot exceed --beam-size" in result.stderr


@pytest.mark.slow
def test_evaluate_json(runner, tiny_lm_dir, small_corpus):
    result = runner.invoke(main, ["evaluate", str(tiny_lm_dir), str(small_corpus), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["perplexity"] > 1 and metrics["bits_per_character"] > 0 and metrics["word_perplexity"] > 1
    result = runner.invoke(main, ["evaluate", str(tiny_lm_dir), str(small_corpus)])
    assert result.exit_code == 0 and "perplexity" in result.stdout


def test_models_lists_user_models(runner, tiny_lm_dir, monkeypatch, tmp_path):
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / "mine").symlink_to(tiny_lm_dir, target_is_directory=True)
    monkeypatch.setenv("SEQTEXT_HOME", str(home))
    result = runner.invoke(main, ["models", "--json"])
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0
    assert {"name": "mine", "source": "user", "kind": "language_model"}.items() <= next(e for e in entries if e["name"] == "mine").items()
    result = runner.invoke(main, ["generate", "A", "-m", "mine", "-n", "5"])
    assert result.exit_code == 0


def test_train_lm_end_to_end_and_resume(runner, small_corpus, tmp_path):
    out = tmp_path / "cli-model"
    args = ["train", "lm", str(small_corpus), "-o", str(out), "--hidden", "32", "--layers", "1",
            "--embedding-dim", "16", "--batch-size", "16", "--bptt", "32", "--max-steps", "12", "--quiet"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "saved to" in result.stdout
    assert {"config.json", "model.safetensors", "vocab.json", "metrics.json", "log.jsonl", "checkpoint.pt"} <= {p.name for p in out.iterdir()}
    result = runner.invoke(main, args + ["--resume"])
    assert result.exit_code == 0, result.output


def test_train_bad_inputs(runner, tmp_path):
    latin = tmp_path / "latin1.txt"
    latin.write_bytes(b"caf\xe9\n")
    result = runner.invoke(main, ["train", "lm", str(latin), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "line 1: not valid UTF-8" in result.stderr and "Traceback" not in result.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = runner.invoke(main, ["train", "lm", str(empty), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "empty" in result.stderr
    result = runner.invoke(main, ["train", "lm", str(tmp_path / "missing.txt"), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "no such file" in result.stderr
    result = runner.invoke(main, ["train", "lm", str(latin), "-o", str(tmp_path / "fresh"), "--resume"])
    assert result.exit_code == 1 and "nothing to resume" in result.stderr


@pytest.mark.slow
def test_debug_shows_traceback(tmp_path):
    # A real process: what the user sees on stderr, not what CliRunner keeps in result.exception.
    import subprocess
    import sys

    command = [sys.executable, "-m", "seqtext.cli.main"]
    args = ["generate", "x", "-m", "no-such-model"]
    debug = subprocess.run(command + ["--debug"] + args, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert debug.returncode == 1, debug.stderr
    assert "Traceback (most recent call last)" in debug.stderr, debug.stderr
    assert "no model named 'no-such-model'" in debug.stderr.strip().splitlines()[-1]
    plain = subprocess.run(command + args, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr, plain.stderr
    assert plain.stderr.startswith("Error: no model named 'no-such-model'") and len(plain.stderr.strip().splitlines()) == 1
