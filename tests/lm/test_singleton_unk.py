"""A word model reads tokens seen once as <unk> now and then (data.singleton_unk), so it learns
how often an unseen word comes instead of never expecting one."""

import numpy as np
import pytest
import torch

from seqtext.configs import ConfigError, settle_unit_defaults
from seqtext.core import distributed
from seqtext.core.trainer import TrainConfig
from seqtext.lm.model import LMConfig
from seqtext.lm.scoring import evaluate_language_model
from seqtext.lm.training import LMDataOptions, LMTask, singletons, train_language_model
from seqtext.text.tokenizers import UNK, WordTokenizer


def test_singletons_are_counted_over_chunks_and_never_special():
    ids = np.array([4, 4, 5, 6, 6, 7, 1, 8, 8], dtype=np.uint16)
    for chunk in (2, 3, 100):
        assert singletons(ids, 10, chunk=chunk).nonzero().flatten().tolist() == [5, 7]


def _task(text: str, share, seed: int = 0, fresh: float = 0.0) -> tuple[LMTask, WordTokenizer]:
    tokenizer = WordTokenizer.train([text], split="whitespace")
    ids = np.asarray(tokenizer.encode(text), dtype=np.int64)
    data = LMDataOptions(tokenizer="word", batch_size=4, bptt=8, fresh_share=fresh, singleton_unk=share)
    return LMTask(torch.nn.Module(), tokenizer, ids, ids[:20], data, {}, seed), tokenizer


TEXT = " ".join(["the cat sat"] * 20 + [f"rare{i}" for i in range(60)])


def test_only_tokens_seen_once_become_unknown_as_inputs_targets_and_fresh_rows():
    every, tokenizer = _task(TEXT, 1.0, fresh=0.5)
    rare = torch.tensor(sorted(tokenizer.stoi[f"rare{i}"] for i in range(60)))
    plain, _ = _task(TEXT, 0.0, fresh=0.5)
    for (inputs, targets, fresh), (raw, raw_targets, raw_fresh) in zip(every.batches(1, 0), plain.batches(1, 0)):
        assert torch.equal(inputs, raw.masked_fill(torch.isin(raw, rare), UNK))  # every singleton, nothing else
        assert torch.equal(targets, raw_targets.masked_fill(torch.isin(raw_targets, rare), UNK))
        assert not torch.isin(fresh[1], rare).any() and torch.isin(raw_fresh[1], rare).any() == torch.isin(fresh[1], UNK).any()


def test_a_token_is_unknown_alike_as_target_and_as_the_next_input_and_the_same_seed_draws_the_same():
    half, _ = _task(TEXT, 0.5, seed=3)
    batches = list(half.batches(1, 0))
    for inputs, targets, _ in batches:
        assert torch.equal(inputs[:, 1:], targets[:, :-1])
    replaced = sum(int((inputs == UNK).sum()) for inputs, _, _ in batches)
    assert 0 < replaced < 60  # about half of the 60 singletons, not all of them
    again, _ = _task(TEXT, 0.5, seed=3)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, again.batches(1, 0)))


def test_two_processes_read_what_one_reads(monkeypatch):
    one = [(b[0], b[2][1]) for b in _task(TEXT, 0.5, fresh=0.5)[0].batches(1, 0)]
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    shares = []
    for rank in (0, 1):
        monkeypatch.setattr(distributed, "rank", lambda rank=rank: rank)
        shares.append([(b[0], b[2][1]) for b in _task(TEXT, 0.5, fresh=0.5)[0].batches(1, 0)])
    for (inputs, fresh), (first, first_fresh), (second, second_fresh) in zip(one, *shares):
        assert torch.equal(inputs, torch.cat([first, second]))  # rank 0 the first rows, rank 1 the rest
        assert torch.equal(fresh[0::2], first_fresh) and torch.equal(fresh[1::2], second_fresh)  # shard: every other row


def test_words_default_to_one_half_and_a_run_saved_before_reads_no_unknowns():
    for unit, share in (("word", 0.5), ("char", 0.0), ("sentencepiece", 0.0)):
        _, data, _ = settle_unit_defaults(LMConfig(vocab_size=0), LMDataOptions(tokenizer=unit), TrainConfig())
        assert data.singleton_unk == share
    saved, _ = _task(TEXT, None)  # run.json written before data.singleton_unk
    assert saved.singletons is None


@pytest.mark.slow
def test_a_word_model_that_reads_singletons_as_unknown_expects_unseen_words(small_corpus, shakespeare_text, tmp_path):
    held_out = [[line for line in shakespeare_text[200_000:215_000].splitlines() if line.strip()]]
    scores = {}
    for share in (0.0, 0.5):
        lm = train_language_model(
            [str(small_corpus)], tmp_path / str(share),
            LMConfig(vocab_size=0, embedding_dim=32, hidden_size=64, num_layers=1, dropout=0.1),
            LMDataOptions(tokenizer="word", word_split="whitespace", batch_size=16, bptt=20, singleton_unk=share),
            TrainConfig(epochs=1, max_steps=80, lr=6e-3, warmup_steps=5, seed=0, progress=False),
        )
        scores[share] = evaluate_language_model(lm, held_out)["cross_entropy"]
    # Measured: 5.8 against 7.1 nats per token (an unseen word is about one token in eight here).
    assert scores[0.5] < scores[0.0] - 0.5


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_a_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ConfigError, match="singleton_unk"):
        LMDataOptions(singleton_unk=share)
