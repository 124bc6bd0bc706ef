import json
import math
from collections import Counter

import pytest
import torch
from torch.nn import functional as F

import seqtext
from seqtext.core.trainer import TrainConfig
from seqtext.errors import SeqtextWarning, TrainingError, TrainingInterrupted
from seqtext.lm.model import LMConfig, RecurrentLM
from seqtext.lm.scoring import evaluate_language_model
from seqtext.lm.training import LMDataOptions, train_language_model
from seqtext.text.tokenizers import BOS, EOS, UNK


def unigram_perplexity(train: str, test: str) -> float:
    counts = Counter(train)
    total = sum(counts.values())
    nll = -sum(math.log((counts[c] + 1) / (total + len(counts) + 1)) for c in test)
    return math.exp(nll / len(test))


def test_tiny_lm_beats_unigram_baseline(tiny_lm_dir, shakespeare_text):
    lm = seqtext.load(tiny_lm_dir)
    held_out = shakespeare_text[-20_000:]
    result = evaluate_language_model(lm, [[held_out]])
    baseline = unigram_perplexity(shakespeare_text[:200_000], held_out)
    assert result["perplexity"] < 0.6 * baseline, (result["perplexity"], baseline)
    assert result["bits_per_character"] == pytest.approx(result["cross_entropy"] * result["tokens"] / result["characters"] / math.log(2))


def test_save_load_identical_outputs(tiny_lm_dir, tmp_path):
    lm = seqtext.load(tiny_lm_dir)
    lm.save(tmp_path / "copy")
    again = seqtext.load(tmp_path / "copy")
    ids = torch.tensor([lm.tokenizer.encode("ROMEO: What say you?")])
    with torch.no_grad():
        assert torch.equal(lm.network(ids)[0], again.network(ids)[0])
    assert again.generate("KING", max_length=40, temperature=0.0) == lm.generate("KING", max_length=40, temperature=0.0)


def test_tied_weights_round_trip_in_float16(tmp_path):
    from seqtext.lm.model import LanguageModel
    from seqtext.text.tokenizers import CharTokenizer

    network = RecurrentLM(LMConfig(vocab_size=10, embedding_dim=8, hidden_size=16, num_layers=2, dropout=0.2, tie_weights=True))
    lm = LanguageModel(network, CharTokenizer.train(["abcdef"]))
    lm.save(tmp_path / "tied", weights_dtype="float16")
    again = seqtext.load(tmp_path / "tied")
    assert again.network.decoder.weight is again.network.embedding.weight
    assert torch.allclose(again.network.embedding.weight, network.embedding.weight, atol=1e-3)


def _unit_lm_embedding(unit: str) -> torch.Tensor:
    from seqtext.configs import settle_unit_defaults

    config, _, _ = settle_unit_defaults(LMConfig(vocab_size=1000, embedding_dim=256, hidden_size=16), LMDataOptions(tokenizer=unit),
                                        TrainConfig())
    return RecurrentLM(config).embedding.weight


@pytest.mark.parametrize("kind", ["language model", "classifier"])
def test_word_embeddings_start_small(kind):
    # A rare word's row moves by a few learning-rate steps in a whole run: that must be a real
    # share of its starting norm (about 0.9 here), not of nn.Embedding's sqrt(256) = 16.
    from seqtext.classifier.model import ClassifierConfig, RecurrentClassifier
    from seqtext.lm.model import EMBEDDING_INIT
    from seqtext.text.tokenizers import PAD

    if kind == "language model":
        rows = _unit_lm_embedding("word")
    else:
        config = ClassifierConfig(vocab_size=1000, num_classes=2, embedding_dim=256, ngram_buckets=0, small_embeddings=True)
        rows = RecurrentClassifier(config).embedding.weight
        assert not rows[PAD].any()  # padding reads as nothing
    assert rows.abs().max() <= EMBEDDING_INIT
    assert rows.norm(dim=1).mean() < 1.0


def test_character_embeddings_keep_normal_init():
    # Characters, each seen thousands of times, keep N(0, 1), with which a short run learns faster.
    assert _unit_lm_embedding("char").norm(dim=1).mean() > 10


def test_greedy_is_deterministic_and_stops(tiny_lm_dir):
    lm = seqtext.load(tiny_lm_dir)
    first = lm.generate("ROMEO:", max_length=60, temperature=0.0)[0]
    second = lm.generate("ROMEO:", max_length=60, temperature=0.0, seed=123)[0]
    assert first == second
    assert first["finish"] in ("eos", "length")
    if first["finish"] == "length":
        assert first["tokens"] == 60


def test_generation_stops_at_eos(tiny_lm_dir):
    lm = seqtext.load(tiny_lm_dir)
    # Make <eos> the only possible next token: generation must end at once with nothing.
    with torch.no_grad():
        lm.network.decoder.bias.fill_(-1e4)
        lm.network.decoder.bias[EOS] = 1e4
    sample = lm.generate("ROMEO:", max_length=50, temperature=1.0, seed=0)[0]
    assert sample == {"text": "", "tokens": 0, "finish": "eos"}


def test_top_k_one_equals_greedy(tiny_lm_dir):
    lm = seqtext.load(tiny_lm_dir)
    greedy = lm.generate("First", max_length=80, temperature=0.0)
    assert lm.generate("First", max_length=80, temperature=1.3, top_k=1, seed=7) == greedy


def test_sampling_is_reproducible_and_batched(tiny_lm_dir):
    lm = seqtext.load(tiny_lm_dir)
    a = lm.generate("The", max_length=50, num_samples=4, seed=3)
    b = lm.generate("The", max_length=50, num_samples=4, seed=3)
    assert a == b and len(a) == 4
    assert len({s["text"] for s in a}) > 1


def test_stream_matches_generate(tiny_lm_dir):
    lm = seqtext.load(tiny_lm_dir)
    streamed = "".join(lm.stream("ROMEO:", max_length=80, temperature=0.9, top_p=0.9, seed=5))
    generated = lm.generate("ROMEO:", max_length=80, temperature=0.9, top_p=0.9, seed=5)[0]["text"]
    assert streamed == generated


def test_stop_string_cuts_text(tiny_lm_dir):
    lm = seqtext.load(tiny_lm_dir)
    full = lm.generate("ROMEO:", max_length=200, temperature=0.0)[0]["text"]
    assert "\n" in full
    cut = lm.generate("ROMEO:", max_length=200, temperature=0.0, stop=("\n",))[0]
    assert cut["finish"] == "stop" and cut["text"] == full[: full.index("\n")]
    assert "".join(lm.stream("ROMEO:", max_length=200, temperature=0.0, stop=("\n",))) == cut["text"]


def _mean_log_prob(network, prefix: list[int], continuation: list[int]) -> float:
    """Mean log-probability per token of ``continuation`` after ``prefix``, read by the
    network's own forward pass over the whole sequence (not the decoder's step function)."""
    ids = torch.tensor([prefix + continuation])
    with torch.no_grad():
        logits, _ = network.eval()(ids[:, :-1])
    log_probs = logits[0].double().log_softmax(-1)
    return sum(log_probs[len(prefix) - 1 + i, token].item() for i, token in enumerate(continuation)) / len(continuation)


def test_beam_search_scores_at_least_greedy(tiny_lm_dir):
    from seqtext.lm import generation

    lm = seqtext.load(tiny_lm_dir)
    beams = lm.generate("ROMEO:", max_length=30, beam_size=4, num_samples=4)
    assert len(beams) == 4 and len({b["text"] for b in beams}) == 4
    beaten = 0
    for seed in ("ROMEO:", "First", "KING"):
        prefix = [BOS] + lm.tokenizer.encode(seed)  # the framing LanguageModel._prefix uses
        sequences = generation.beam_search(lm.network, prefix, 30, 4, (UNK,))
        greedy_steps = generation.sample(lm.network, prefix, 30, 0.0, None, None, 1, torch.Generator(), (UNK,))
        greedy = generation.collect(greedy_steps, 1)[0]
        assert lm.tokenizer.decode([t for t in greedy if t != EOS]) == lm.generate(seed, max_length=30, temperature=0.0)[0]["text"]
        scores = [_mean_log_prob(lm.network, prefix, sequence) for sequence in sequences]
        assert all(a >= b - 1e-6 for a, b in zip(scores, scores[1:])), scores  # best first
        greedy_score = _mean_log_prob(lm.network, prefix, greedy)
        assert scores[0] >= greedy_score - 1e-6, (seed, scores[0], greedy_score)
        beaten += scores[0] > greedy_score + 1e-3
    assert beaten >= 1  # the search finds something greedy misses, or this test checks nothing
    prefix = [BOS] + lm.tokenizer.encode("ROMEO:")
    assert lm.tokenizer.decode(generation.beam_search(lm.network, prefix, 30, 4, (UNK,))[0]) == beams[0]["text"]


def test_unknown_seed_characters_warn(tiny_lm_dir):
    lm = seqtext.load(tiny_lm_dir)
    with pytest.warns(SeqtextWarning, match="does not know '😀'"):
        lm.generate("ROMEO 😀", max_length=5, temperature=0.0)


def _run(corpus, out, max_steps, on_step=None, resume=False, given=None, schedule="cosine"):
    return train_language_model(
        [str(corpus)],
        out,
        LMConfig(vocab_size=0, embedding_dim=16, hidden_size=32, num_layers=2, dropout=0.3),
        LMDataOptions(batch_size=8, bptt=32),
        TrainConfig(epochs=1, max_steps=max_steps, warmup_steps=3, checkpoint_every=4, progress=False, seed=11,
                    schedule=schedule),
        resume=resume,
        given=given,
        on_step=on_step,
    )


def test_resume_after_interrupt_equals_uninterrupted_run(small_corpus, tmp_path):
    _run(small_corpus, tmp_path / "straight", 14)

    def interrupt(trainer):
        if trainer.step == 6:
            trainer.request_stop()

    with pytest.raises(TrainingInterrupted, match="resume=True"):
        _run(small_corpus, tmp_path / "resumed", 14, on_step=interrupt)
    assert torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)["progress"]["step"] == 6
    _run(small_corpus, tmp_path / "resumed", None, resume=True)
    straight = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)
    assert straight["progress"]["step"] == resumed["progress"]["step"] == 14
    for key, value in straight["network"].items():
        assert torch.equal(value, resumed["network"][key]), key


def test_run_ended_by_max_steps_is_extended_on_resume(small_corpus, tmp_path):
    # A constant learning rate: the schedule then does not depend on the planned length, so a
    # 10-step run extended to 20 must end where a run planned for 20 steps ends.
    _run(small_corpus, tmp_path / "straight", 20, schedule="constant")
    _run(small_corpus, tmp_path / "extended", 10, schedule="constant")
    first = torch.load(tmp_path / "extended" / "checkpoint.pt", weights_only=True)
    assert first["progress"]["step"] == 10
    _run(small_corpus, tmp_path / "extended", 20, resume=True, given={"train.max_steps": "--max-steps"}, schedule="constant")
    straight = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    extended = torch.load(tmp_path / "extended" / "checkpoint.pt", weights_only=True)
    assert extended["progress"]["step"] == 20
    assert json.loads((tmp_path / "extended" / "run.json").read_text())["train"]["max_steps"] == 20
    assert not torch.equal(first["network"]["decoder.weight"], extended["network"]["decoder.weight"])
    for key, value in straight["network"].items():
        assert torch.equal(value, extended["network"][key]), key
    # Resuming once more without a new limit has nothing left to do.
    _run(small_corpus, tmp_path / "extended", None, resume=True)
    again = torch.load(tmp_path / "extended" / "checkpoint.pt", weights_only=True)
    assert again["progress"]["step"] == 20


def test_same_seed_same_run(small_corpus, tmp_path):
    a = _run(small_corpus, tmp_path / "a", 5)
    b = _run(small_corpus, tmp_path / "b", 5)
    assert a.metrics["loss"] == b.metrics["loss"]


def test_nan_loss_stops_with_checkpoint_kept(small_corpus, tmp_path):
    def poison(trainer):
        if trainer.step == 5:  # after the checkpoint of step 4
            with torch.no_grad():
                trainer.network.decoder.bias.fill_(float("nan"))

    with pytest.raises(TrainingError, match="loss became nan at step 6"):
        _run(small_corpus, tmp_path / "nan", 20, on_step=poison)
    kept = torch.load(tmp_path / "nan" / "checkpoint.pt", weights_only=True)
    assert kept["progress"]["step"] == 4
    assert torch.isfinite(kept["network"]["decoder.bias"]).all()


def test_tiny_corpus_falls_back_to_smaller_batch(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("To be, or not to be, that is the question.\n" * 5)
    with pytest.warns(SeqtextWarning, match="using batch size"):
        lm = _run(corpus, tmp_path / "out", 3)
    assert math.isfinite(lm.metrics["loss"])


def test_word_level_lm_reads_lines_and_reports_words_alone(small_corpus, tmp_path):
    lm = train_language_model(
        [str(small_corpus)],
        tmp_path / "word",
        LMConfig(vocab_size=0, embedding_dim=16, hidden_size=32, num_layers=1, tie_weights=True),
        LMDataOptions(tokenizer="word", min_freq=2, batch_size=8, bptt=16),
        TrainConfig(epochs=1, max_steps=20, warmup_steps=2, progress=False),
    )
    assert lm.tokenizer.line_based and lm.network.decoder.weight is lm.network.embedding.weight
    result = evaluate_language_model(lm, [["First Citizen:", "Before we proceed any further, hear me speak."]])
    assert result["words"] == 10 and result["tokens"] == 10 + 2 + 3  # 3 punctuation tokens, 2 <eos>
    assert result["perplexity_without_eos"] > 1
    sample = lm.generate("Before we", max_length=5, temperature=0.0)[0]
    assert sample["text"].startswith(" ") or sample["text"] == ""
    with torch.no_grad():
        lm.network.decoder.bias[UNK] = 1e4  # <unk> now wins every step, unless it is banned
    assert "<unk>" not in lm.generate("Before we", max_length=5, temperature=0.0)[0]["text"]
    assert lm.generate("Before we", max_length=3, temperature=0.0, allow_unk=True)[0]["text"] == " <unk> <unk> <unk>"


def test_word_vocabulary_is_in_frequency_order():
    from seqtext.text.tokenizers import WordTokenizer

    tokenizer = WordTokenizer.train(["b a a c c c", "c a"], split="whitespace")
    assert tokenizer.itos[4:] == ["c", "a", "b"]  # most frequent first: adaptive clusters are id ranges


def test_adaptive_softmax_trains_saves_and_scores(small_corpus, tmp_path):
    lm = train_language_model(
        [str(small_corpus)],
        tmp_path / "adaptive",
        LMConfig(vocab_size=0, embedding_dim=16, hidden_size=32, num_layers=1, dropout=0.0, adaptive_cutoffs=[100, 1000]),
        LMDataOptions(tokenizer="word", batch_size=8, bptt=16),
        TrainConfig(epochs=1, max_steps=30, warmup_steps=2, progress=False),
    )
    assert lm.network.adaptive is not None and lm.network.decoder is None
    ids = torch.tensor([[2, 5, 6, 7, 8]])
    logits, _ = lm.network(ids)
    assert torch.allclose(logits.logsumexp(-1), torch.zeros(1, 5), atol=1e-5)  # full log-probabilities
    total, count, _ = lm.network.nll_sum(ids[:, :-1], ids[:, 1:])
    expected = F.cross_entropy(logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten(), reduction="sum")
    assert count == 4 and total.item() == pytest.approx(expected.item(), rel=1e-5)
    reloaded = seqtext.load(tmp_path / "adaptive")
    assert torch.allclose(reloaded.network(ids)[0], logits, atol=1e-6)
    result = evaluate_language_model(lm, [["First Citizen:", "Before we proceed any further, hear me speak."]])
    assert math.isfinite(result["cross_entropy"]) and result["perplexity"] < lm.tokenizer.vocab_size
    samples = lm.generate("Before we", max_length=5, num_samples=3, seed=0)  # decoding through the adaptive head
    assert len(samples) == 3 and all(s["finish"] in ("eos", "length") for s in samples)
    one = lm.generate("Before we", max_length=5, seed=0)[0]["text"]
    assert "".join(lm.stream("Before we", max_length=5, seed=0)) == one


@pytest.mark.slow
def test_max_time_stops_by_the_clock_and_keeps_the_best(small_corpus, tmp_path):
    import time

    started = time.perf_counter()
    lm = train_language_model(
        [str(small_corpus)],
        tmp_path / "timed",
        LMConfig(vocab_size=0, embedding_dim=16, hidden_size=32, num_layers=1),
        LMDataOptions(batch_size=8, bptt=32),
        TrainConfig(epochs=1000, max_time=3.0, warmup_steps=2, progress=False),
    )
    checkpoint = torch.load(tmp_path / "timed" / "checkpoint.pt", weights_only=True)
    # The clock ends it, keeping the last evaluation inside the budget (measured from the one before).
    assert 3.0 * 0.9 <= checkpoint["progress"]["elapsed"] < 3.0 + 30
    assert time.perf_counter() - started < 60 and math.isfinite(lm.metrics["loss"])


@pytest.mark.slow
def test_tokenizer_auto_chooses_its_unit_by_the_corpus_size_and_a_resumed_run_keeps_it(small_corpus, tmp_path, monkeypatch):
    import seqtext.configs as configs

    size = small_corpus.stat().st_size
    quick = TrainConfig(max_steps=1, warmup_steps=0, progress=False)
    for threshold, unit in ((size + 1, "char"), (size, "word")):
        monkeypatch.setattr(configs, "AUTO_UNITS", ((threshold, "char"), (None, "word")))
        out = tmp_path / unit
        lm = train_language_model([str(small_corpus)], out, data=LMDataOptions(batch_size=4, bptt=16), train=quick)
        assert lm.tokenizer.kind == unit
        assert json.loads((out / "run.json").read_text())["data"]["tokenizer"] == unit  # a resumed run keeps the choice
    # The same command again with --resume (so --tokenizer auto given again) goes on with the unit chosen.
    lm = train_language_model([], tmp_path / "word", data=LMDataOptions(), train=TrainConfig(max_steps=2, progress=False),
                              resume=True, given={"data.tokenizer": "--tokenizer", "train.max_steps": "--max-steps"})
    assert lm.tokenizer.kind == "word" and lm.metrics["step"] == 2


def test_epochs_and_learning_rate_left_out_are_settled_by_model_kind():
    from seqtext.configs import BY_BUDGET, DEFAULT_BUDGET, ClassifierDataOptions, settle_by_kind

    assert (settle_by_kind(TrainConfig(), "tagger").epochs, settle_by_kind(TrainConfig(), "tagger").lr) == (14, 2e-3)
    assert (settle_by_kind(TrainConfig(), "classifier").epochs, settle_by_kind(TrainConfig(), "classifier").lr) == (10, 2e-3)
    with_lm = ClassifierDataOptions(pretrained_lms=["some-lm"])
    assert settle_by_kind(TrainConfig(), "classifier", with_lm).lr == 1e-2
    # No limit given: a language model trains for the default budget, as many epochs as it allows.
    settled = settle_by_kind(TrainConfig(), "language_model")
    assert (settled.max_time, settled.epochs) == (DEFAULT_BUDGET["language_model"], BY_BUDGET)
    assert settle_by_kind(TrainConfig(), "tagger").max_time == DEFAULT_BUDGET["tagger"]
    assert settle_by_kind(TrainConfig(epochs=3, lr=1e-4), "tagger") == TrainConfig(epochs=3, lr=1e-4, schedule="cosine")
