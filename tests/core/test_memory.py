"""Memory estimates hold (#24 item 8): the estimate a request is refused by is within a factor of
1.5 of the peak it measurably reaches, and a request that could never fit is refused before
anything is allocated.

The peak is measured in a fresh Python process (so that no memory freed by earlier tests is
reused): its peak resident set (VmHWM, reset through /proc/self/clear_refs after the model is
built) minus its resident set at that moment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seqtext.errors import SeqtextError
from seqtext.lm import generation
from seqtext.lm.model import LanguageModel, LMConfig, RecurrentLM
from seqtext.text.tokenizers import CharTokenizer

MEASURE = r"""
import json, re, sys
import torch
from seqtext.core import resources
from seqtext.lm import generation
from seqtext.lm.model import LanguageModel, LMConfig, RecurrentLM
from seqtext.text.tokenizers import CharTokenizer, WordTokenizer

torch.set_num_threads(1)
case = json.loads(sys.argv[1])
model, call = case["model"], case["call"]
specials = ["<pad>", "<unk>", "<bos>", "<eos>"]
if model.pop("word"):
    tokenizer = WordTokenizer(specials + [f"w{i}" for i in range(model["vocab_size"] - 4)])
else:
    tokenizer = CharTokenizer(specials + [chr(0x4e00 + i) for i in range(model["vocab_size"] - 4)])
torch.manual_seed(0)
lm = LanguageModel(RecurrentLM(LMConfig(dropout=0.0, **model)), tokenizer)
lm.generate("", max_length=1)
estimates = []
check_fits = generation.check_fits
generation.check_fits = lambda needed, what: (estimates.append(needed), check_fits(needed, what))

def status(key):
    return int(re.search(key + r":\s+(\d+)", open("/proc/self/status").read()).group(1)) * 1024

open("/proc/self/clear_refs", "w").write("5")  # the peak resident set starts again from here
before = status("VmRSS")
lm.generate("", **call)
print(json.dumps({"peak": status("VmHWM") - before, "estimate": estimates[0]}))
"""


def measure(model: dict, call: dict) -> tuple[int, int]:
    """(measured peak, estimate) in bytes of ``lm.generate("", **call)`` on a random network."""
    case = json.dumps({"model": {"word": False, **model}, "call": call})
    done = subprocess.run([sys.executable, "-c", MEASURE, case], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    return result["peak"], result["estimate"]


needs_proc = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc/self/clear_refs")


@needs_proc
@pytest.mark.parametrize("model,call", [
    # the case of the issue, smaller: many short samples of a character LSTM (shakespeare's shape)
    ({"vocab_size": 69, "embedding_dim": 64, "hidden_size": 256, "num_layers": 2}, {"num_samples": 8000, "max_length": 2}),
    # a large vocabulary: the sampling step's (N, V) tensors, plain and top-p
    ({"vocab_size": 20000, "embedding_dim": 8, "hidden_size": 8, "num_layers": 1, "word": True},
     {"num_samples": 400, "max_length": 2}),
    ({"vocab_size": 20000, "embedding_dim": 8, "hidden_size": 8, "num_layers": 1, "word": True},
     {"num_samples": 400, "max_length": 2, "top_p": 0.9}),
    # beam search, and a GRU
    ({"vocab_size": 20000, "embedding_dim": 32, "hidden_size": 64, "num_layers": 1, "word": True},
     {"beam_size": 64, "num_samples": 8, "max_length": 20}),
    ({"vocab_size": 69, "embedding_dim": 32, "hidden_size": 256, "num_layers": 2, "cell": "gru"},
     {"num_samples": 8000, "max_length": 2}),
])
@pytest.mark.slow
def test_generate_estimate_is_within_one_and_a_half_times_the_peak(model, call):
    peak, estimate = measure(model, call)
    assert peak > 20 * 2**20, "too small a case to measure"
    assert 1 / 1.5 <= estimate / peak <= 1.5, (peak, estimate)


def test_many_streams_are_refused_before_anything_is_allocated(monkeypatch):
    """``seqtext generate a -s 10000000 -n 3`` on a tiny model: refused at once, with the estimate."""
    tokenizer = CharTokenizer(["<pad>", "<unk>", "<bos>", "<eos>", *"abcdefgh"])
    lm = LanguageModel(RecurrentLM(LMConfig(vocab_size=12, embedding_dim=8, hidden_size=128, num_layers=1, dropout=0.0)), tokenizer)
    monkeypatch.setattr("seqtext.core.resources.total_memory", lambda: 16 << 30)
    monkeypatch.setattr(generation.Stepper, "prefix", lambda *args: pytest.fail("allocated before refusing"))
    with pytest.raises(SeqtextError, match=r"^10,000,000 streams of 3 tokens would need about [\d.]+ GiB"):
        lm.generate("a", num_samples=10_000_000, max_length=3)
    assert generation.decoding_bytes(lm.network, 10_000_000, 3) > 16 << 30
