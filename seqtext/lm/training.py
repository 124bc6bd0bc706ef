"""Training a language model: corpus -> tokenizer -> id streams -> truncated BPTT with the
shared trainer.

Everything a resumed run needs to rebuild the same setup (options, tokenizer, encoded corpus)
is written into the output directory before the first step, so ``resume=True`` needs nothing
but the directory.

The model must also learn to *start*: users generate from ``<bos>`` and a seed with a zero
state, which carried-state training never shows it (the whole corpus has one <bos>). So every
batch carries, besides the ``batch_size`` streams, a share of extra rows that start at a
random line from a zero state after <bos> (``fresh_share``). The evaluation reports the
cross-entropy of the first 64 tokens after such a start next to the overall figure.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from seqtext.configs import LMDataOptions, auto_unit_help, settle_unit_defaults
from seqtext.core import distributed
from seqtext.core.batching import Task, mix_seed
from seqtext.core.devices import resolve_device
from seqtext.core.files import corpus_bytes, stream_documents
from seqtext.core.progress import Workload
from seqtext.core.recipe import Recipe, Session, run_training
from seqtext.core.resources import LOGIT_COPIES, check_network_fits, training_floats
from seqtext.core.runs import Run, names
from seqtext.core.trainer import TrainConfig
from seqtext.errors import DataError, SeqtextWarning, TrainingError
from seqtext.lm import sizing
from seqtext.lm.corpus import auto_unit, encode_documents, id_dtype, split_stream
from seqtext.lm.model import (
    LanguageModel,
    LMConfig,
    RecurrentLM,
    batchify,
    detach_state,
    load_language_model,
    targets_of,
    window_ids,
)
from seqtext.lm.scoring import (
    fresh_start_loss,
    line_start_ids,
    safe_exp,
    score_documents,
)
from seqtext.text.tokenizers import BOS, SPECIALS, TOKENIZERS, UNK, load_tokenizer, train_tokenizer

SNAP = 4096  # how far a fresh row looks ahead for the start of a line
UNIT_NAMES = {"char": "characters", "word": "words", "sentencepiece": "pieces"}  # the plan line's token counts


def _tokenizer_options(data: LMDataOptions) -> dict:
    if data.tokenizer == "sentencepiece":
        return {"vocab_size": data.vocab_size, "model_type": data.sp_model_type}
    options = {"min_freq": data.min_freq, "max_size": data.max_vocab}
    if data.tokenizer == "word":
        options.update(split=data.word_split, lowercase=data.lowercase)
    return options


EVAL_STREAM_MIN = 4096  # validation during training: tokens per stream at least


def _fit_batch(ids: np.ndarray, batch_size: int, bptt: int, what: str) -> tuple[int, int]:
    """A batch size and window that the stream can fill; smaller ones with a warning if needed."""
    if len(ids) < 3:
        raise DataError(f"the {what} text is too short to train on ({len(ids)} tokens)")
    fitted_batch, fitted_bptt = _fitted_shape(len(ids), batch_size, bptt)
    if (fitted_batch, fitted_bptt) == (batch_size, bptt):
        return batch_size, bptt
    warnings.warn(
        f"the {what} text has {len(ids)} tokens, fewer than batch size {batch_size} x {bptt + 1}; "
        f"using batch size {fitted_batch} and window {fitted_bptt}",
        SeqtextWarning,
        stacklevel=3,
    )
    return fitted_batch, fitted_bptt


def fresh_rows(batch_size: int, fresh_share: float) -> int:
    """The fresh-start rows beside ``batch_size`` carried streams."""
    return int(round(batch_size * fresh_share))


def rows_with_fresh(batch_size: int, fresh_share: float) -> int:
    """Rows of a training batch: the carried streams and the fresh-start rows beside them."""
    return batch_size + fresh_rows(batch_size, fresh_share)


def _run_device(train: TrainConfig) -> torch.device:
    """The device this process trains on: where the sizing probe times a step."""
    return distributed.local_device(resolve_device(train.device))


def _fitted_shape(tokens: int, batch_size: int, bptt: int) -> tuple[int, int]:
    """The batch size and window a stream of ``tokens`` tokens can fill (``_fit_batch``)."""
    if tokens // batch_size >= bptt + 1:
        return batch_size, bptt
    fitted_batch = max(1, tokens // (bptt + 1))
    return fitted_batch, max(1, min(bptt, tokens // fitted_batch - 1))


def _with_zero_rows(state, rows: int):
    """The carried state with ``rows`` zero rows appended for the fresh windows."""
    if state is None or rows == 0:
        return state
    if isinstance(state, tuple):
        return tuple(_with_zero_rows(s, rows) for s in state)
    return torch.cat([state, state.new_zeros(state.size(0), rows, state.size(2))], dim=1)


def singletons(ids, vocab_size: int, chunk: int = 1 << 24) -> torch.Tensor:
    """(vocab_size,) bool: the tokens seen exactly once in ``ids`` (counted a chunk at a time, so
    a memory-mapped corpus of a billion tokens is never loaded whole); never a special token."""
    counts = np.zeros(vocab_size, dtype=np.int64)
    for begin in range(0, len(ids), chunk):
        counts += np.bincount(np.asarray(ids[begin : begin + chunk]), minlength=vocab_size)[:vocab_size]
    once = torch.from_numpy(counts == 1)
    once[: len(SPECIALS)] = False
    return once


def _first_rows(state, rows: int):
    if isinstance(state, tuple):
        return tuple(s[:, :rows] for s in state)
    return state[:, :rows]


class LMTask(Task):
    """Truncated BPTT over ``batch_size`` parallel streams, hidden state carried and detached,
    plus fresh rows that start a line from a zero state after <bos>."""

    def __init__(self, network, tokenizer, train_ids, val_ids, data: LMDataOptions, info: dict, seed: int):
        super().__init__(network)
        self.tokenizer = tokenizer
        self.data = data
        self.info = info
        self.seed = seed
        batch_size, self.bptt = _fit_batch(train_ids, data.batch_size, data.bptt, "training")
        self.batch_size = batch_size  # the global batch's rows: this process trains self.rows of them
        self.train_ids = train_ids
        # Several processes: each trains its own block of rows of the global batch of streams.
        distributed.check_divisible(batch_size, "data.batch_size")
        rows = batch_size // distributed.world_size()
        self.rows = slice(distributed.rank() * rows, (distributed.rank() + 1) * rows)
        self.streams = batchify(train_ids, batch_size)[self.rows]  # (B / world, N / B)
        self.fresh_rows = fresh_rows(batch_size, data.fresh_share)
        self.starts = np.fromiter(line_start_ids(tokenizer), dtype=np.int64)
        # A held-out tenth of a huge corpus would take hours to score at every evaluation: the
        # first max_val_tokens of it are scored (all of it when it is smaller, as usual).
        self.val_ids = val_ids[: data.max_val_tokens] if data.max_val_tokens else val_ids
        self.state = None
        # Tokens seen once are read as <unk> now and then, so the model learns how often an
        # unseen word comes (Good-Turing) instead of never expecting one.
        self.singleton_unk = data.singleton_unk or 0.0
        self.singletons = singletons(train_ids, tokenizer.vocab_size) if self.singleton_unk else None

    def steps_per_epoch(self) -> int:
        return math.ceil((self.streams.shape[1] - 1) / self.bptt)

    def batches(self, epoch: int, start: int):
        if start == 0:
            self.state = None
        for index in range(start, self.steps_per_epoch()):
            chunk = window_ids(self.streams, index * self.bptt, self.bptt)
            if self.singletons is not None:
                chunk = self.as_unknown(chunk, mix_seed(self.seed, epoch, index, 1), self.batch_size, self.rows)
            yield chunk[:, :-1], targets_of(chunk[:, 1:]), self.fresh_windows(epoch, index, chunk.size(1) - 1)

    def as_unknown(self, ids: torch.Tensor, seed: int, total: int, rows: slice = slice(None)) -> torch.Tensor:
        """``ids``, rows ``rows`` of a global batch of ``total`` rows, with each token seen once in
        the corpus replaced by <unk> at the chance ``data.singleton_unk``. The draws cover the
        global batch and depend only on ``seed``: N processes (each its rows) read what one
        reads, and a token is <unk> alike as an input and as the target before it."""
        chance = torch.rand((total, ids.size(1)), generator=torch.Generator().manual_seed(seed))[rows]
        return ids.masked_fill(self.singletons[ids] & (chance < self.singleton_unk), UNK)

    def fresh_windows(self, epoch: int, index: int, length: int):
        """``fresh_rows`` windows of ``length`` tokens, each at a line start after <bos>; the same
        for the same (seed, epoch, step), so a resumed run sees the same ones."""
        n = len(self.train_ids)
        if self.fresh_rows == 0 or n < length + 2:
            return None
        rng = np.random.default_rng(mix_seed(self.seed, epoch, index))
        rows = []
        for p in rng.integers(1, n - length + 1, size=self.fresh_rows).tolist():
            ahead = np.asarray(self.train_ids[p - 1 : min(p - 1 + SNAP, n - length)])
            hits = np.flatnonzero(np.isin(ahead, self.starts))
            if len(hits):
                p += int(hits[0])  # just after the line-start token
            rows.append(np.asarray(self.train_ids[p : p + length], dtype=np.int64))
        targets = torch.from_numpy(np.stack(rows))
        if self.singletons is not None:
            targets = self.as_unknown(targets, mix_seed(self.seed, epoch, index, 2), len(rows))
        targets = distributed.shard(targets)  # the same global rows on every rank; each takes its share
        if not len(targets):
            return None
        inputs = torch.cat([torch.full((len(targets), 1), BOS, dtype=torch.long), targets[:, :-1]], dim=1)
        return inputs, targets_of(targets)

    def loss(self, batch):
        inputs, targets, fresh = batch
        device = self.network.embedding.weight.device
        if fresh is not None:
            fresh = (fresh[0].to(device), fresh[1].to(device))
        inputs, targets = inputs.to(device), targets.to(device)
        carried = inputs.size(0)
        state = None if self.data.reset_state else self.state
        if fresh is not None:
            inputs, targets = torch.cat([inputs, fresh[0]]), torch.cat([targets, fresh[1]])
            state = _with_zero_rows(state, fresh[0].size(0))
        total, count, state = self.network.nll_sum(inputs, targets, state)
        self.state = detach_state(_first_rows(state, carried))
        return total, count

    def evaluate(self) -> dict:
        """The validation text cut into up to ``eval_batch_size`` contiguous streams of at least
        EVAL_STREAM_MIN tokens, read side by side, each from a fresh state; every token but each
        stream's first is scored once: several streams run matrix products instead of one
        stream's matrix-vector products (docs/studies/training.md). ``seqtext evaluate`` reads
        documents whole."""
        streams = max(1, min(self.data.eval_batch_size, len(self.val_ids) // EVAL_STREAM_MIN))
        totals = score_documents(self.network, np.array_split(self.val_ids, streams), streams, max(self.data.bptt, 256))
        loss = totals["nll"] / max(totals["tokens"], 1)
        metrics = {"loss": loss, "perplexity": safe_exp(loss), "bits_per_token": loss / math.log(2)}
        fresh = fresh_start_loss(self.network, self.val_ids, set(self.starts.tolist()))
        if fresh is not None:
            metrics["fresh_loss"] = fresh
        return metrics

    def sample(self) -> str:
        model = LanguageModel(self.network, self.tokenizer, backward=self.data.backward)
        return model.generate("", max_length=200, temperature=0.8, seed=0)[0]["text"]

    def state_dict(self) -> dict:
        """The carried state of the whole global batch (gathered from every rank), on the CPU."""
        state = self.state
        hidden = [] if state is None else list(state) if isinstance(state, tuple) else [state]
        return {"hidden": [distributed.gather_rows(h, dim=1).cpu() for h in hidden]}

    def load_state_dict(self, saved: dict) -> None:
        device = self.network.embedding.weight.device
        hidden = [h[:, self.rows].to(device) for h in saved["hidden"]]
        self.state = None if not hidden else tuple(hidden) if self.network.config.cell == "lstm" else hidden[0]

    def save(self, directory, metrics: dict) -> None:
        LanguageModel(self.network, self.tokenizer, info=self.info, backward=self.data.backward).save(
            directory, metrics, weights_dtype=self.data.weights_dtype
        )
        self.network.train()


# With a time budget one validation takes about this share of it (data.max_val_tokens unless
# given): the 500,000 tokens of a word model on 20 MB once took 348 s of a 5-minute budget.
VALIDATION_SHARE = 0.03
EVAL_SPEEDUP = 2.0  # scoring a token costs about half of training on it (no backward, wider windows)
MIN_VALIDATION_TOKENS = 5_000
SIZED_FIELDS = ("num_layers", "hidden_size", "embedding_dim")  # model fields the budget sizes together


class LanguageModelRecipe(Recipe):
    """A language model's part of ``run_training``: the corpus counted into a tokenizer (or an
    ``init_from`` model's taken), encoded once into ``OUTPUT/data``, and read back on resuming."""

    kind = "language_model"
    configs = (LMConfig, LMDataOptions, TrainConfig)

    def __init__(self, train_files, val_files=None, init_from: str | None = None):
        super().__init__(train_files, fixed={"val_files": val_files, "init_from": init_from})
        self.val_files, self.init_from = val_files, init_from
        self.base: LanguageModel | None = None  # the init_from model
        self.sized, self.dropout_given = False, False  # settled by _settle_data

    def prepare(self, s: Session) -> Run | None:
        if s.run is None:
            return self._prepare_fresh(s)
        self.config = s.model
        if not isinstance(s.run.derived.get("tokenizer"), dict):
            raise TrainingError(f"{s.out_dir}/run.json: no tokenizer settings under 'derived'; the run cannot be resumed")
        self.tokenizer = load_tokenizer(s.out_dir, s.run.derived["tokenizer"])
        self.train_ids, self.val_ids = _load_cached_ids(s.out_dir, self.tokenizer, s.data, s.run.derived.get("id_files", {}))
        return None

    def _prepare_fresh(self, s: Session) -> Run:
        self.base = base = _load_base(self.init_from) if self.init_from else None
        self._settle_data(s)
        by_line = (base.tokenizer if base else TOKENIZERS[s.data.tokenizer]).line_based
        reader = _CorpusReader(self.train_files, self.val_files, s.data.text_column, by_line, progress=s.train.progress and base is None)
        if base is not None:
            self.tokenizer, self.config = base.tokenizer, base.network.config
            s.log(f"starting from {self.init_from}: its tokenizer and network settings")
        else:
            self.tokenizer = train_tokenizer(s.data.tokenizer, reader.texts(self.train_files, "counting"), **_tokenizer_options(s.data))
            self.config = LMConfig(**{**asdict(s.model), "vocab_size": self.tokenizer.vocab_size,
                                      "adaptive_cutoffs": _cutoffs(self.tokenizer, s.data, s.model)})
            s.log(f"counted {reader.documents:,} document(s), {reader.characters:,} characters in {reader.seconds:.1f} s")
        self._encode(s, reader)
        self._check_validation()
        rate = self._size_network(s, reader.characters) if self.sized else None
        s.train = replace(s.train, schedule=s.train.schedule or "cosine")  # saved as a value, so --resume can compare
        check_network_fits(lambda: RecurrentLM(self.config), "model.hidden_size, model.num_layers, model.embedding_dim")
        self._fit_validation(s, rate)
        return Run(
            kind="language_model", model=asdict(self.config), data=asdict(s.data), train=asdict(s.train),
            files={"train": names(self.train_files), "val": names(self.val_files),
                   "init_from": str(self.init_from) if self.init_from else None},
            derived={"tokenizer": self.tokenizer.save(s.out_dir),
                     "id_files": {p.name: int(p.stat().st_size // id_dtype(self.tokenizer.vocab_size).itemsize)
                                  for p in (s.out_dir / "data").glob("*.bin")}},
        )

    def _settle_data(self, s: Session) -> None:
        """The direction and the tokenizer a fresh run takes from its base model or its corpus,
        and the defaults that follow from the tokenizer."""
        base, data = self.base, s.data
        if base is not None and base.backward != data.backward:
            if data.backward:
                raise TrainingError(f"data.backward: {self.init_from} reads text left to right; start a backward model from a backward one")
            data = replace(data, backward=True)  # a backward model goes on learning backwards
        if data.tokenizer == "auto" and base is not None:
            data = replace(data, tokenizer=base.tokenizer.kind)
        elif data.tokenizer == "auto":
            data = replace(data, tokenizer=auto_unit(self.train_files))
            s.log(f"--tokenizer auto: {data.tokenizer} tokens ({auto_unit_help()})")
        model = s.model or LMConfig(vocab_size=0)
        # The network is sized to corpus and budget (lm/sizing.py) unless the user gave its size.
        self.sized = base is None and all(getattr(model, f) is None for f in SIZED_FIELDS)
        self.dropout_given = model.dropout is not None
        if base is not None and data.singleton_unk is None:
            data = replace(data, singleton_unk=0.0)  # fine-tuning: the base may know the new text's rare words
        s.model, s.data, s.train = settle_unit_defaults(model, data, s.train, base.tokenizer.kind if base else None)

    def _size_network(self, s: Session, characters: int) -> float | None:
        """The rung of the sizing ladder for this corpus (``characters`` in all, its training
        share sized on) and budget, and its dropout. Returns the training tokens per second
        probed for it (None: sized by epochs or steps, unprobed)."""
        train, data, tokens = s.train, s.data, len(self.train_ids)
        rows = rows_with_fresh(data.batch_size, data.fresh_share)
        if not self.val_files:  # the characters counted include the held-out share
            characters = int(characters * tokens / max(1, tokens + len(self.val_ids)))
        limits = [train.epochs * tokens] if train.epochs else []
        limits += [train.max_steps * rows * data.bptt] if train.max_steps else []
        choice = sizing.choose(data.tokenizer, self.config, tokens, characters, rows, data.bptt, budget_seconds=train.max_time,
                               budget_tokens=min(limits) if limits else None, sample=self.train_ids,
                               device=_run_device(train), processes=distributed.world_size())
        rung = choice.rung
        dropout = self.config.dropout if self.dropout_given else choice.dropout
        sizes = {"num_layers": rung.num_layers, "hidden_size": rung.hidden_size, "embedding_dim": rung.embedding_dim,
                 "dropout": dropout}
        self.config, s.model = replace(self.config, **sizes), replace(s.model, **sizes)
        early = choice.patience if train.patience is None and train.eval_every is None else None  # evaluations a pass apart
        if early:  # and the learning rate halved at each evaluation without improvement, unless set
            s.train = replace(train, patience=early, schedule=train.schedule or "plateau")
        s.log(choice.describe(dropout, early, s.train.schedule == "plateau"))
        return choice.tokens / train.max_time if choice.probe_seconds is not None else None

    def _fit_validation(self, s: Session, rate: float | None) -> None:
        """With a time budget, validation during training scores no more of the held-out text
        than takes about VALIDATION_SHARE of the budget (at ``rate`` training tokens per second,
        probed here when the network was not sized), unless data.max_val_tokens was given."""
        data, budget = s.data, s.train.max_time
        given = "data.max_val_tokens" in s.given or data.max_val_tokens != LMDataOptions().max_val_tokens  # the CLI's, or the API's
        if budget is None or given:
            return
        if rate is None:
            self._check_batch_fits(s)  # the probe trains on a whole batch
            rate = sizing.probe_rate(self.config, rows_with_fresh(data.batch_size, data.fresh_share), data.bptt,
                                     self.train_ids, device=_run_device(s.train))
            rate *= distributed.world_size()
        cap = max(MIN_VALIDATION_TOKENS, int(VALIDATION_SHARE * budget * EVAL_SPEEDUP * rate))
        if data.max_val_tokens is None or cap < data.max_val_tokens:
            s.data = replace(data, max_val_tokens=cap)
            if cap < len(self.val_ids):
                s.log(f"validation during training scores the first {cap:,} of the {len(self.val_ids):,} held-out tokens, "
                      f"about {VALIDATION_SHARE:.0%} of the budget each time (seqtext evaluate scores all of them)")

    def _encode(self, s: Session, reader: _CorpusReader) -> None:
        """The corpus as token ids in ``OUTPUT/data``: all.bin split by ``val_fraction``, or
        train.bin and val.bin from ``val_files``."""
        cache, tokenizer, backward = s.out_dir / "data", self.tokenizer, s.data.backward
        reader.seconds = 0.0
        if not self.val_files:
            all_ids = encode_documents(reader.pieces(self.train_files, "encoding"), tokenizer, cache / "all.bin", backward)
            self.train_ids, self.val_ids = split_stream(all_ids, s.data.val_fraction)
        else:
            self.train_ids = encode_documents(reader.pieces(self.train_files, "encoding"), tokenizer, cache / "train.bin", backward)
            self.val_ids = encode_documents(reader.pieces(self.val_files, "encoding validation"), tokenizer, cache / "val.bin", backward)
        s.log(f"encoded {len(self.train_ids) + len(self.val_ids):,} tokens in {reader.seconds:.1f} s")

    def _check_validation(self) -> None:
        if len(self.val_ids) < 2:
            raise DataError("the validation text is empty; give a longer corpus, val_files or a larger data.val_fraction")

    def ready(self, s: Session) -> None:
        self._check_validation()
        s.log(f"{self.tokenizer.kind} tokenizer, {self.tokenizer.vocab_size} tokens; {len(self.train_ids):,} training and "
              f"{len(self.val_ids):,} validation tokens")
        self._check_batch_fits(s)

    def _check_batch_fits(self, s: Session) -> None:
        """Refuse a network whose largest training batch (fitted to the corpus as LMTask fits
        it, with its fresh rows) would not fit in memory, before anything is allocated."""
        batch_size, bptt = _fitted_shape(len(self.train_ids), s.data.batch_size, s.data.bptt)
        rows = rows_with_fresh(batch_size, s.data.fresh_share)
        check_network_fits(lambda: RecurrentLM(self.config), "model.hidden_size, model.num_layers, model.embedding_dim",
                           activations=rows * bptt * token_floats(self.config),
                           batch=f"batches of {rows:,} x {bptt:,} tokens (data.batch_size, data.bptt)")

    def make_task(self, s: Session) -> LMTask:
        network = RecurrentLM(self.config)
        if self.base is not None:
            network.load_state_dict(self.base.network.state_dict())
        params = sum(p.numel() for p in network.parameters())
        s.log(f"{self.config.cell} language model, {params:,} parameters")
        info = {
            "parameters": params,
            "train_files": s.run.files.get("train", []),
            "init_from": s.run.files.get("init_from"),
            "data": asdict(s.data),
            "train": {k: v for k, v in asdict(s.train).items() if k != "progress"},
        }
        return LMTask(network, self.tokenizer, self.train_ids, self.val_ids, s.data, info, s.train.seed)

    def workload(self, s: Session) -> Workload:
        kind = self.tokenizer.kind
        return Workload(what=f"{'SentencePiece' if kind == 'sentencepiece' else kind}-token language model",
                        unit=UNIT_NAMES.get(kind, "tokens"), items=len(self.train_ids))

    def load(self, out_dir: Path, device: str) -> LanguageModel:
        return LanguageModel.load(out_dir, device=device)


def train_language_model(
    train_files: list[str],
    out_dir,
    model: LMConfig | None = None,
    data: LMDataOptions | None = None,
    train: TrainConfig | None = None,
    val_files: list[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    given: dict | None = None,
    init_from: str | None = None,
    log=None,
    on_step=None,
) -> LanguageModel:
    """Train a language model on ``train_files`` and keep the best one in ``out_dir``.

    ``model.vocab_size`` is ignored: it comes from the tokenizer. ``init_from`` (a language
    model's name or directory) starts from that model's weights and tokenizer, and its network
    settings replace ``model``. With ``resume`` the options saved in ``out_dir`` are used;
    ``given`` names the options the user set explicitly (``{"train.max_steps": "--max-steps"}``):
    those that only say how long to go on replace the saved ones, the others must not differ.
    """
    recipe = LanguageModelRecipe(train_files, val_files=val_files, init_from=init_from)
    return run_training(recipe, out_dir, model=model, data=data, train=train, resume=resume, overwrite=overwrite,
                        given=given, log=log, on_step=on_step)


ADAPTIVE_FROM = 10_000  # word vocabularies at least this large get an adaptive softmax


def token_floats(config: LMConfig) -> float:
    """Floats per token of a training batch at the step's peak (tests/core/test_memory.py): the
    recurrent stack's (resources.training_floats), the projection's output, and the output
    layer's logits over the vocabulary; with an adaptive softmax the head's (frequent tokens and
    one logit per cluster) and a tenth of the tail's, which only tokens of each cluster reach."""
    E, H = config.embedding_dim, config.hidden_size
    floats = training_floats(E, H, config.num_layers, config.cell) + (2 * E if config.tie_weights and H != E else 0)
    cutoffs = list(config.adaptive_cutoffs or [])
    outputs = config.vocab_size if not cutoffs else cutoffs[0] + len(cutoffs) + (config.vocab_size - cutoffs[0]) / 10
    return floats + LOGIT_COPIES * outputs


def _cutoffs(tokenizer, data: LMDataOptions, model: LMConfig | None) -> list[int] | None:
    """Adaptive-softmax clusters for a large word vocabulary (its ids are in frequency order):
    the 2,000 most frequent words, the next 8,000, and the rest: a full softmax over a large
    vocabulary costs several times the LSTM per token (docs/studies/training.md)."""
    if model is not None and model.adaptive_cutoffs:
        return model.adaptive_cutoffs
    if data.adaptive_softmax == "off" or tokenizer.kind != "word" or tokenizer.vocab_size < ADAPTIVE_FROM:
        return None
    if model is not None and model.tie_weights:
        return None
    return [c for c in (2_000, 10_000) if c < tokenizer.vocab_size - 1_000]


class _CorpusReader:
    """Streams the corpus for one pass (counting the vocabulary, or encoding), with a progress
    bar in bytes and the pass's time, so that neither a file nor a list of texts is ever held."""

    def __init__(self, train_files, val_files, text_column: str, by_line: bool, progress: bool):
        self.text_column, self.by_line, self.progress = text_column, by_line, progress
        self.documents = self.characters = 0
        self.seconds = 0.0

    def pieces(self, files, what: str):
        bar = None
        if self.progress:
            bar = tqdm(total=corpus_bytes(files) or None, unit="B", unit_scale=True, desc=what, leave=False)
        started = time.perf_counter()
        try:
            for piece in stream_documents(files, self.text_column, self.by_line, on_bytes=bar.update if bar is not None else None):
                yield piece
        finally:
            self.seconds += time.perf_counter() - started
            if bar is not None:
                bar.close()

    def texts(self, files, what: str):
        for text, starts, _ in self.pieces(files, what):
            self.documents += starts
            self.characters += len(text)
            yield text


def _load_base(name_or_path) -> LanguageModel:
    return load_language_model(name_or_path, option="init_from")


def _load_cached_ids(out_dir: Path, tokenizer, data: LMDataOptions, sizes: dict) -> tuple[np.ndarray, np.ndarray]:
    """The encoded corpus of a run, checked against the token counts run.json recorded."""
    cache = out_dir / "data"
    dtype = id_dtype(tokenizer.vocab_size)

    def mapped(name: str) -> np.ndarray:
        path = cache / name
        expected = sizes.get(name)
        found = path.stat().st_size // dtype.itemsize
        if found == 0 or (isinstance(expected, int) and found != expected):
            raise TrainingError(f"{path} is damaged ({found:,} tokens, expected {expected if expected is not None else 'some'}); "
                                f"start a new run with overwrite=True")
        return np.memmap(path, dtype=dtype, mode="r")

    if (cache / "all.bin").is_file():
        return split_stream(mapped("all.bin"), data.val_fraction)
    if (cache / "train.bin").is_file() and (cache / "val.bin").is_file():
        return mapped("train.bin"), mapped("val.bin")
    raise TrainingError(f"nothing to resume in {out_dir}: the encoded corpus in {cache} is missing")
