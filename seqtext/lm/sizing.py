"""A language model sized to its corpus and its budget (#23): the rule that `train lm` follows
for every size option the user leaves out.

A budget buys a number of training tokens, which depends on the network: a few steps of each
rung of a ladder of networks are timed on this machine (``probe_rate``). The rule then takes
the largest rung that can read ``TOKENS_PER_PARAMETER`` tokens (by unit) per recurrent parameter
in the budget (more data read beats a bigger network that reads little) and that the corpus can feed
(at most ``PARAMETERS_PER_CHARACTER`` recurrent parameters per character of training text), and sets dropout by
how many times the budget reads the corpus. The constants come from the sweep in
benchmarks/lm_sweep.py (docs/studies/lm_sizing.md)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from seqtext.configs import LMConfig
from seqtext.core import devices
from seqtext.core.resources import GATES
from seqtext.lm.model import RecurrentLM

# Tokens the budget must read per recurrent parameter, by unit: a subword or a word carries several
# characters and most of its step goes to the softmax, so it needs fewer than a character. The
# sweep (5 minutes, one core): 1 x 256 characters reading 41 per parameter beat 2 x 512 reading
# 0.5; 1 x 256 subwords reading 9 beat 1 x 512 reading 1 on 3 MB and 20 MB, and lost by 1 % on
# 300 KB (docs/studies/lm_sizing.md).
TOKENS_PER_PARAMETER = {"char": 20.0, "word": 0.5, "sentencepiece": 2.0}
# A corpus feeds at most this many recurrent parameters per character: more only overfits
# it, whatever the budget (on 300 KB 1 x 512 subwords, 5 per character, still won).
PARAMETERS_PER_CHARACTER = 8.0
# Dropout by passes over the corpus the budget allows (a corpus read many times needs more);
# (passes up to, dropout), the last for any number.
DROPOUT_BY_PASSES = {"char": ((2, 0.0), (8, 0.1), (32, 0.2), (None, 0.3)),
                     "word": ((2, 0.1), (8, 0.3), (None, 0.5)),
                     "sentencepiece": ((4, 0.1), (16, 0.2), (None, 0.3))}
# A corpus the budget reads more than EARLY_STOP_PASSES times halves the learning rate at each
# evaluation (one a pass) without improvement and stops after EARLY_STOP_PATIENCE of them: 300 KB
# of subwords read 93 times in 30 minutes under the cosine schedule was best after 7 passes and
# never again, at dropout 0.3 or 0.5 (docs/studies/lm_sizing.md).
EARLY_STOP_PASSES = 16
EARLY_STOP_PATIENCE = 5


@dataclass(frozen=True)
class Rung:
    num_layers: int
    hidden_size: int
    embedding_dim: int

    def __str__(self) -> str:
        return f"{self.num_layers} x {self.hidden_size} (embedding {self.embedding_dim})"


LADDER = {
    "char": (Rung(1, 128, 32), Rung(1, 256, 64), Rung(2, 256, 64), Rung(2, 384, 96), Rung(2, 512, 128), Rung(2, 768, 192),
             Rung(3, 1024, 256)),
    "word": (Rung(1, 128, 128), Rung(1, 256, 256), Rung(1, 512, 400), Rung(2, 512, 400), Rung(2, 1024, 400)),
    "sentencepiece": (Rung(1, 256, 128), Rung(1, 512, 256), Rung(2, 512, 256), Rung(2, 768, 384), Rung(2, 1024, 512)),
}


@dataclass(frozen=True)
class Choice:
    rung: Rung
    dropout: float
    tokens: float  # training tokens the budget buys with this rung
    passes: float  # how many times the budget reads the corpus
    probe_seconds: float | None  # None: sized by epochs or steps, nothing probed
    patience: int | None  # evaluations without improvement that end the run early (many passes)

    def describe(self, dropout: float, early: int | None, halving: bool) -> str:
        """The line ``train lm`` prints, with the dropout the run takes (the user's, if given),
        ``early``, the patience it takes from the rule (None: not the rule's), and whether the
        learning rate is halved on a plateau."""
        probed = f"; probed {self.probe_seconds:.1f} s" if self.probe_seconds is not None else ""
        halved = ", halving the learning rate at each" if halving else ""
        early = f"; stops after {early} passes without improvement{halved}" if early else ""
        return (f"network sized to the budget: {self.rung}, dropout {dropout:g} ({self.tokens / 1e6:.3g} M tokens in "
                f"the budget, {self.passes:.3g} passes over the corpus{probed}{early})")


def recurrent_parameters(rung: Rung, cell: str = "lstm") -> int:
    """The weights of the recurrent stack: what the rule scales (embeddings and the output layer
    scale with the vocabulary, not with what the network can learn from a token)."""
    count, inputs = 0, rung.embedding_dim
    for _ in range(rung.num_layers):
        count += GATES[cell] * (inputs + rung.hidden_size + 2) * rung.hidden_size
        inputs = rung.hidden_size
    return count


def probe_rate(config: LMConfig, rows: int, bptt: int, sample=None, steps: int = 2, device=None) -> float:
    """Training tokens per second of a network ``config`` on this machine, as it trains (AdamW,
    whose dense update of a large vocabulary's embeddings is a real share of a word model's
    step): one warm-up step and ``steps`` timed ones of ``rows`` x ``bptt`` tokens, taken from
    ``sample`` (token ids
    of the corpus: a word model's softmax costs what its clusters cost on real text, where
    uniformly random ids would nearly all fall in the rarest) or random. The network is thrown
    away; the global random state is put back."""
    device = torch.device("cpu") if device is None else device  # the run's device, under its autocast
    saved = torch.random.get_rng_state()
    network = RecurrentLM(config).to(device).train()
    optimizer = torch.optim.AdamW(network.parameters(), lr=1e-3)
    needed = rows * (bptt + 1)
    if sample is not None and len(sample) >= needed:
        ids = torch.from_numpy(np.asarray(sample[:needed], dtype=np.int64)).view(rows, bptt + 1)
    else:
        ids = torch.randint(0, config.vocab_size, (rows, bptt + 1))
    ids, times = ids.to(device), []
    for _ in range(steps + 1):
        started = time.perf_counter()
        optimizer.zero_grad()
        with devices.autocast(device):
            total, count, _ = network.nll_sum(ids[:, :-1], ids[:, 1:])
        (total / count).backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - started)
    torch.random.set_rng_state(saved)
    return rows * bptt / min(times[1:])  # the fastest: other work on the machine only ever slows a step


def dropout_for(unit: str, passes: float) -> float:
    for limit, dropout in DROPOUT_BY_PASSES[unit]:
        if limit is None or passes <= limit:
            return dropout
    raise AssertionError("the last entry has no limit")


def choose(unit: str, base: LMConfig, corpus_tokens: int, corpus_characters: int, rows: int, bptt: int,
           budget_seconds: float | None = None, budget_tokens: float | None = None, sample=None, rate=None,
           device=None, processes: int = 1) -> Choice:
    """The rung of ``unit``'s ladder for a corpus of ``corpus_tokens`` training tokens
    (``corpus_characters`` characters) and a budget: a time (tokens per second probed with
    ``rate(config, rows, bptt, sample, device=device)``, times ``processes`` training side by
    side), a number of tokens (the epochs or steps given), or both (whichever ends first).
    ``base``: the network settings not sized here (vocabulary, cell, adaptive softmax)."""
    started = time.perf_counter()
    chosen = None
    for rung in LADDER[unit]:
        parameters = recurrent_parameters(rung, base.cell)
        if chosen is not None and parameters > PARAMETERS_PER_CHARACTER * corpus_characters:
            break  # more than the corpus can feed
        tokens = budget_tokens if budget_tokens is not None else float("inf")
        if budget_seconds is not None:
            probed = (rate or probe_rate)(_sized(base, rung), rows, bptt, sample, device=device)
            tokens = min(tokens, probed * processes * budget_seconds)
        if chosen is not None and tokens < TOKENS_PER_PARAMETER[unit] * parameters:
            break  # the budget reads too little for this rung; larger ones read less
        chosen = (rung, tokens)
    rung, tokens = chosen
    passes = tokens / max(1, corpus_tokens)
    probe_seconds = time.perf_counter() - started if budget_seconds is not None else None
    patience = EARLY_STOP_PATIENCE if passes > EARLY_STOP_PASSES else None
    return Choice(rung, dropout_for(unit, passes), tokens, passes, probe_seconds, patience)


def _sized(base: LMConfig, rung: Rung) -> LMConfig:
    return replace(base, num_layers=rung.num_layers, hidden_size=rung.hidden_size, embedding_dim=rung.embedding_dim, dropout=0.0)
