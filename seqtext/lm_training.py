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
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from seqtext.configs import LMDataOptions
from seqtext.corpus import encode_stream, id_dtype, read_texts, split_stream
from seqtext.errors import DataError, SeqtextWarning, TrainingError
from seqtext.evaluation import fresh_start_loss, line_start_ids, safe_exp, score_documents
from seqtext.lm import LanguageModel, LMConfig, RecurrentLM, batchify, detach_state, targets_of, window
from seqtext.resources import check_network_fits
from seqtext.runs import Run, apply_resume_options, build, prepare_run, save_run
from seqtext.tokenizers import BOS, TOKENIZERS, load_tokenizer, train_tokenizer
from seqtext.trainer import TrainConfig, Trainer, mix_seed

SNAP = 4096  # how far a fresh row looks ahead for the start of a line


def _tokenizer_options(data: LMDataOptions) -> dict:
    if data.tokenizer == "sentencepiece":
        return {"vocab_size": data.vocab_size, "model_type": data.sp_model_type}
    options = {"min_freq": data.min_freq, "max_size": data.max_vocab}
    if data.tokenizer == "word":
        options.update(split=data.word_split, lowercase=data.lowercase)
    return options


def _fit_batch(ids: np.ndarray, batch_size: int, bptt: int, what: str) -> tuple[int, int]:
    """A batch size and window that the stream can fill; smaller ones with a warning if needed."""
    if len(ids) < 3:
        raise DataError(f"the {what} text is too short to train on ({len(ids)} tokens)")
    if len(ids) // batch_size >= bptt + 1:
        return batch_size, bptt
    fitted_batch = max(1, len(ids) // (bptt + 1))
    fitted_bptt = min(bptt, len(ids) // fitted_batch - 1)
    warnings.warn(
        f"the {what} text has {len(ids)} tokens, fewer than batch size {batch_size} x {bptt + 1}; "
        f"using batch size {fitted_batch} and window {fitted_bptt}",
        SeqtextWarning,
        stacklevel=3,
    )
    return fitted_batch, fitted_bptt


def _with_zero_rows(state, rows: int):
    """The carried state with ``rows`` zero rows appended for the fresh windows."""
    if state is None or rows == 0:
        return state
    if isinstance(state, tuple):
        return tuple(_with_zero_rows(s, rows) for s in state)
    return torch.cat([state, state.new_zeros(state.size(0), rows, state.size(2))], dim=1)


def _first_rows(state, rows: int):
    if isinstance(state, tuple):
        return tuple(s[:, :rows] for s in state)
    return state[:, :rows]


class LMTask:
    """Truncated BPTT over ``batch_size`` parallel streams, hidden state carried and detached,
    plus fresh rows that start a line from a zero state after <bos>."""

    def __init__(self, network, tokenizer, train_ids, val_ids, data: LMDataOptions, info: dict, seed: int):
        self.network = network
        self.tokenizer = tokenizer
        self.data = data
        self.info = info
        self.seed = seed
        batch_size, self.bptt = _fit_batch(train_ids, data.batch_size, data.bptt, "training")
        self.train_ids = train_ids
        self.streams = batchify(train_ids, batch_size)  # (B, N / B)
        self.fresh_rows = int(round(batch_size * data.fresh_share))
        self.starts = np.fromiter(line_start_ids(tokenizer), dtype=np.int64)
        self.val_ids = val_ids
        self.state = None

    def steps_per_epoch(self) -> int:
        return math.ceil((self.streams.shape[1] - 1) / self.bptt)

    def batches(self, epoch: int, start: int):
        if start == 0:
            self.state = None
        for index in range(start, self.steps_per_epoch()):
            inputs, targets = window(self.streams, index * self.bptt, self.bptt)
            yield inputs, targets, self.fresh_windows(epoch, index, inputs.size(1))

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
        inputs = torch.cat([torch.full((len(rows), 1), BOS, dtype=torch.long), targets[:, :-1]], dim=1)
        return inputs, targets_of(targets)

    def loss(self, batch):
        inputs, targets, fresh = batch
        carried = inputs.size(0)
        state = None if self.data.reset_state else self.state
        if fresh is not None:
            inputs, targets = torch.cat([inputs, fresh[0]]), torch.cat([targets, fresh[1]])
            state = _with_zero_rows(state, fresh[0].size(0))
        logits, state = self.network(inputs, state)
        self.state = detach_state(_first_rows(state, carried))
        weight = int((targets != -100).sum())
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
        return loss, weight

    def evaluate(self) -> dict:
        """Validation text read in order from one fresh state: every token scored once."""
        totals = score_documents(self.network, [self.val_ids], 1, max(self.data.bptt, 256))
        loss = totals["nll"] / max(totals["tokens"], 1)
        metrics = {"loss": loss, "perplexity": safe_exp(loss), "bits_per_token": loss / math.log(2)}
        fresh = fresh_start_loss(self.network, self.val_ids, set(self.starts.tolist()))
        if fresh is not None:
            metrics["fresh_loss"] = fresh
        return metrics

    def sample(self) -> str:
        model = LanguageModel(self.network, self.tokenizer)
        return model.generate("", max_length=200, temperature=0.8, random_seed=0)[0]["text"]

    def state_dict(self) -> dict:
        state = self.state
        return {"hidden": [] if state is None else list(state) if isinstance(state, tuple) else [state]}

    def load_state_dict(self, saved: dict) -> None:
        hidden = saved["hidden"]
        self.state = None if not hidden else tuple(hidden) if self.network.config.cell == "lstm" else hidden[0]

    def save(self, directory, metrics: dict) -> None:
        LanguageModel(self.network, self.tokenizer, info=self.info).save(
            directory, metrics, weights_dtype=self.data.weights_dtype
        )
        self.network.train()


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
    out_dir = Path(out_dir)
    log = log or (lambda message: None)
    with prepare_run(out_dir, "language_model", resume=resume, overwrite=overwrite) as run:
        if run is not None:
            if train_files and [str(f) for f in train_files] != run.files.get("train"):
                raise TrainingError("training files cannot change when resuming; leave them out with --resume")
            apply_resume_options(run, given or {}, {"model": model, "data": data, "train": train})
            data = build(LMDataOptions, run.data, f"{out_dir}/run.json data")
            train = build(TrainConfig, run.train, f"{out_dir}/run.json train")
            config = build(LMConfig, run.model, f"{out_dir}/run.json model")
            tokenizer = load_tokenizer(out_dir, run.derived["tokenizer"])
            train_ids, val_ids = _load_cached_ids(out_dir, tokenizer, data)
            save_run(out_dir, run)  # with the new limits
            base = None
        else:
            data = data or LMDataOptions()
            train = train or TrainConfig()
            base = _load_base(init_from) if init_from else None
            by_line = (base.tokenizer if base else TOKENIZERS[data.tokenizer]).line_based
            texts = read_texts(train_files, data.text_column, by_line=by_line)
            val_texts = read_texts(val_files, data.text_column, by_line=by_line) if val_files else None
            log(f"read {len(texts)} text(s), {sum(len(t) for t in texts):,} characters")
            if base is not None:
                tokenizer, config = base.tokenizer, base.network.config
                log(f"starting from {init_from}: its tokenizer and network settings")
            else:
                tokenizer = train_tokenizer(data.tokenizer, texts, **_tokenizer_options(data))
                config = LMConfig(**{**asdict(model or LMConfig(vocab_size=0)), "vocab_size": tokenizer.vocab_size})
            check_network_fits(lambda: RecurrentLM(config), "--hidden, --layers, --embedding-dim")
            cache = out_dir / "data"
            if val_texts is None:
                train_ids, val_ids = split_stream(encode_stream(texts, tokenizer, cache / "all.bin"), data.val_fraction)
            else:
                train_ids = encode_stream(texts, tokenizer, cache / "train.bin")
                val_ids = encode_stream(val_texts, tokenizer, cache / "val.bin")
            run = Run(
                kind="language_model",
                model=asdict(config),
                data=asdict(data),
                train=asdict(train),
                files={"train": [str(f) for f in train_files], "val": [str(f) for f in val_files or []],
                       "init_from": str(init_from) if init_from else None},
                derived={"tokenizer": tokenizer.save(out_dir)},
            )
            save_run(out_dir, run)
        if len(val_ids) < 2:
            raise DataError("the validation text is empty; give a longer corpus, a --val-file or a larger --val-fraction")
        log(f"{tokenizer.kind} tokenizer, {tokenizer.vocab_size} tokens; {len(train_ids):,} training and {len(val_ids):,} validation tokens")
        torch.manual_seed(train.seed)
        network = RecurrentLM(config)
        if base is not None:
            network.load_state_dict(base.network.state_dict())
        params = sum(p.numel() for p in network.parameters())
        log(f"{config.cell} language model, {params:,} parameters")
        info = {
            "parameters": params,
            "train_files": run.files.get("train", []),
            "init_from": run.files.get("init_from"),
            "data": asdict(data),
            "train": {k: v for k, v in asdict(train).items() if k != "progress"},
        }
        task = LMTask(network, tokenizer, train_ids, val_ids, data, info, train.seed)
        Trainer(task, train, out_dir, log=log).fit(resume=resume, on_step=on_step)
    from seqtext.registry import load

    return load(out_dir)


def _load_base(name_or_path) -> LanguageModel:
    from seqtext.registry import load

    base = load(name_or_path)
    if base.kind != "language_model":
        raise TrainingError(f"--init-from {name_or_path}: a {base.kind}, not a language model")
    return base


def _load_cached_ids(out_dir: Path, tokenizer, data: LMDataOptions) -> tuple[np.ndarray, np.ndarray]:
    cache = out_dir / "data"
    dtype = id_dtype(tokenizer.vocab_size)
    if (cache / "all.bin").is_file():
        return split_stream(np.memmap(cache / "all.bin", dtype=dtype, mode="r"), data.val_fraction)
    if (cache / "train.bin").is_file() and (cache / "val.bin").is_file():
        return np.memmap(cache / "train.bin", dtype=dtype, mode="r"), np.memmap(cache / "val.bin", dtype=dtype, mode="r")
    raise TrainingError(f"nothing to resume in {out_dir}: the encoded corpus in {cache} is missing")
