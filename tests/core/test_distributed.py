"""Training in several processes (torch.distributed, Gloo on CPU): two processes with the same
global batch train the same weights as one, and a run resumes with another process count."""

import os
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.slow  # a browser or several processes: seconds each

TINY_LM = ["--hidden", "32", "--layers", "1", "--embedding-dim", "16", "--dropout", "0", "--batch-size", "8",
           "--bptt", "32", "--warmup-steps", "2", "--quiet", "--seed", "3"]


def seqtext(*args, cwd=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "seqtext.cli.main", *map(str, args)], capture_output=True, text=True,
                            env=env, cwd=cwd, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def weights(run_dir):
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    return state["progress"]["step"], state["network"]


def max_difference(a, b):
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shakespeare_text):
    path = tmp_path_factory.mktemp("dist") / "small.txt"
    path.write_text(shakespeare_text[:60_000], encoding="utf-8")
    return path


def test_two_processes_train_the_same_weights_as_one(corpus, tmp_path):
    seqtext("train", "lm", corpus, "-o", tmp_path / "one", "--max-steps", 10, *TINY_LM)
    result = seqtext("train", "lm", corpus, "-o", tmp_path / "two", "--max-steps", 10, "--nproc", 2, *TINY_LM)
    assert result.stdout.count("saved to") == 1  # rank 0 alone reports and writes
    one_step, one = weights(tmp_path / "one")
    two_step, two = weights(tmp_path / "two")
    assert one_step == two_step == 10
    assert max_difference(one, two) < 1e-4
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "two").iterdir())


def test_distributed_run_resumes_with_another_process_count(corpus, tmp_path):
    constant = ["--schedule", "constant", "--checkpoint-every", 5]
    seqtext("train", "lm", corpus, "-o", tmp_path / "straight", "--max-steps", 20, *TINY_LM, *constant)
    seqtext("train", "lm", corpus, "-o", tmp_path / "split", "--max-steps", 10, "--nproc", 2, *TINY_LM, *constant)
    seqtext("train", "lm", "-o", tmp_path / "split", "--resume", "--max-steps", 20, "--quiet")
    straight_step, straight = weights(tmp_path / "straight")
    split_step, split = weights(tmp_path / "split")
    assert straight_step == split_step == 20
    assert max_difference(straight, split) < 1e-4


def test_two_process_tagger_matches_one(shared_data, tmp_path):
    lines = (shared_data / "conllpp" / "train.txt").read_text(encoding="utf-8").splitlines()[:3000]
    train = tmp_path / "ner.txt"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    options = ["--hidden", 16, "--word-dim", 16, "--char-dim", 8, "--char-hidden", 8, "--dropout", 0, "--word-dropout", 0,
               "--batch-size", 8, "--max-steps", 10, "--warmup-steps", 2, "--quiet", "--seed", 3, "--dev-fraction", 0.2]
    seqtext("train", "tagger", train, "-o", tmp_path / "one", *options)
    seqtext("train", "tagger", train, "-o", tmp_path / "two", "--nproc", 2, *options)
    assert max_difference(weights(tmp_path / "one")[1], weights(tmp_path / "two")[1]) < 1e-4


def test_global_batch_must_divide_among_processes(corpus, tmp_path):
    args = [sys.executable, "-m", "seqtext.cli.main", "train", "lm", str(corpus), "-o", str(tmp_path / "odd"),
            "--max-steps", "2", "--nproc", "2", *TINY_LM[:8], "--batch-size", "7", "--quiet"]
    result = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert result.returncode == 2  # a usage error, found before anything is read or written
    assert "Invalid value for --batch-size: 7 does not divide among 2 processes" in result.stderr
    assert not (tmp_path / "odd").exists()

