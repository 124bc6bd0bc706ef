"""Shared fixtures: small slices of the real corpus shipped in corpora/, and one tiny language
model trained once per session (a few seconds) that several test files use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# One thread: the test models are tiny, and on a 2-core machine two OpenMP threads per process
# thrash as soon as anything else runs (measured here: one test 80 s against 3 s beside a training job).
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")  # for the subprocesses the tests start

ROOT = Path(__file__).resolve().parents[1]
SHAKESPEARE = ROOT / "corpora" / "shakespeare.txt"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The benchmark corpora beside the checkout (``../shared/data``, or $SEQTEXT_DATA_DIR).
    They cannot be copied into the repository; CI has them next to its clone."""
    path = Path(os.environ.get("SEQTEXT_DATA_DIR", ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"benchmark corpora not found at {path} (set SEQTEXT_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def shakespeare_text() -> str:
    return SHAKESPEARE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory, shakespeare_text) -> Path:
    """The first 200,000 characters of tiny Shakespeare as a file."""
    path = tmp_path_factory.mktemp("corpus") / "shakespeare_small.txt"
    path.write_text(shakespeare_text[:200_000], encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory, small_corpus) -> Path:
    """A one-layer character LSTM trained for 150 steps on the small corpus."""
    from seqtext.core.trainer import TrainConfig
    from seqtext.lm.model import LMConfig
    from seqtext.lm.training import LMDataOptions, train_language_model

    out = tmp_path_factory.mktemp("models") / "tiny"
    train_language_model(
        [str(small_corpus)],
        out,
        LMConfig(vocab_size=0, embedding_dim=32, hidden_size=128, num_layers=1, dropout=0.0),
        LMDataOptions(batch_size=32, bptt=64),
        TrainConfig(epochs=1, max_steps=150, lr=5e-3, warmup_steps=10, progress=False),
    )
    return out
