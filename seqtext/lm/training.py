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
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from seqtext.configs import WORD_UNIT_FROM, LMDataOptions, settle_unit_defaults
from seqtext.core import distributed
from seqtext.core.batching import mix_seed
from seqtext.core.devices import resolve_device
from seqtext.core.files import corpus_bytes, stream_documents
from seqtext.core.resources import check_network_fits
from seqtext.core.runs import (
    Run,
    names,
    prepare_run,
    publish_run,
    save_run,
    settle_options,
)
from seqtext.core.trainer import TrainConfig, Trainer
from seqtext.errors import DataError, SeqtextWarning, TrainingError
from seqtext.lm.corpus import auto_unit, encode_documents, id_dtype, split_stream
from seqtext.lm.model import (
    LanguageModel,
    LMConfig,
    RecurrentLM,
    batchify,
    detach_state,
    load_language_model,
    targets_of,
    window,
)
from seqtext.lm.scoring import (
    fresh_start_loss,
    line_start_ids,
    safe_exp,
    score_documents,
)
from seqtext.text.tokenizers import BOS, TOKENIZERS, load_tokenizer, train_tokenizer

SNAP = 4096  # how far a fresh row looks ahead for the start of a line


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
        # Several processes: each trains its own block of rows of the global batch of streams.
        distributed.check_divisible(batch_size, "--batch-size")
        rows = batch_size // distributed.world_size()
        self.rows = slice(distributed.rank() * rows, (distributed.rank() + 1) * rows)
        self.streams = batchify(train_ids, batch_size)[self.rows]  # (B / world, N / B)
        self.fresh_rows = int(round(batch_size * data.fresh_share))
        self.starts = np.fromiter(line_start_ids(tokenizer), dtype=np.int64)
        # A held-out tenth of a huge corpus would take hours to score at every evaluation: the
        # first max_val_tokens of it are scored (all of it when it is smaller, as usual).
        self.val_ids = val_ids[: data.max_val_tokens] if data.max_val_tokens else val_ids
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
        rows = distributed.shard(rows)  # the same global rows on every rank; each takes its share
        if not rows:
            return None
        targets = torch.from_numpy(np.stack(rows))
        inputs = torch.cat([torch.full((len(rows), 1), BOS, dtype=torch.long), targets[:, :-1]], dim=1)
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
        stream's first is scored once. One stream alone runs matrix-vector products: on the
        shakespeare validation text 16 streams take 2.7 s against 17.5 s, for 0.0011 nats more
        (the tokens after each cut lose their history). ``seqtext evaluate`` reads documents whole."""
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
        return model.generate("", max_length=200, temperature=0.8, random_seed=0)[0]["text"]

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
    distributed.setup(resolve_device((train or TrainConfig()).device))
    log = log if log is not None and distributed.is_main() else (lambda message: None)  # rank 0 reports
    with prepare_run(out_dir, "language_model", resume=resume, overwrite=overwrite) as run:
        run, model, data, train = settle_options(out_dir, run, "language_model", (LMConfig, LMDataOptions, TrainConfig), given,
                                                 train_files, (model, data, train), {"--val-file": val_files, "--init-from": init_from})
        if run is not None:
            config, base = model, None
            if not isinstance(run.derived.get("tokenizer"), dict):
                raise TrainingError(f"{out_dir}/run.json: no tokenizer settings under 'derived'; the run cannot be resumed")
            tokenizer = load_tokenizer(out_dir, run.derived["tokenizer"])
            train_ids, val_ids = _load_cached_ids(out_dir, tokenizer, data, run.derived.get("id_files", {}))
        else:
            base = _load_base(init_from) if init_from else None
            if base is not None and base.backward != data.backward:
                if data.backward:
                    raise TrainingError(f"--backward: {init_from} reads text left to right; start a backward model from a backward one")
                data = replace(data, backward=True)  # a backward model goes on learning backwards
            if data.tokenizer == "auto" and base is not None:
                data = replace(data, tokenizer=base.tokenizer.kind)
            elif data.tokenizer == "auto":
                data = replace(data, tokenizer=auto_unit(train_files))
                log(f"--tokenizer auto: {data.tokenizer} tokens (training files {'of' if data.tokenizer == 'word' else 'under'} "
                    f"{WORD_UNIT_FROM / 1e6:g} MB{' or more' if data.tokenizer == 'word' else ''})")
            model, data, train = settle_unit_defaults(model or LMConfig(vocab_size=0), data, train,
                                                      base.tokenizer.kind if base else None)
            by_line = (base.tokenizer if base else TOKENIZERS[data.tokenizer]).line_based
            reader = _CorpusReader(train_files, val_files, data.text_column, by_line, progress=train.progress and base is None)
            if base is not None:
                tokenizer, config = base.tokenizer, base.network.config
                log(f"starting from {init_from}: its tokenizer and network settings")
            else:
                tokenizer = train_tokenizer(data.tokenizer, reader.texts(train_files, "counting"), **_tokenizer_options(data))
                config = LMConfig(**{**asdict(model), "vocab_size": tokenizer.vocab_size,
                                     "adaptive_cutoffs": _cutoffs(tokenizer, data, model)})
                log(f"counted {reader.documents:,} document(s), {reader.characters:,} characters in {reader.seconds:.1f} s")
            check_network_fits(lambda: RecurrentLM(config), "--hidden, --layers, --embedding-dim")
            cache = out_dir / "data"
            reader.seconds = 0.0
            if not val_files:
                train_ids, val_ids = split_stream(encode_documents(reader.pieces(train_files, "encoding"), tokenizer, cache / "all.bin", data.backward),
                                                  data.val_fraction)
            else:
                train_ids = encode_documents(reader.pieces(train_files, "encoding"), tokenizer, cache / "train.bin", data.backward)
                val_ids = encode_documents(reader.pieces(val_files, "encoding validation"), tokenizer, cache / "val.bin", data.backward)
            log(f"encoded {len(train_ids) + len(val_ids):,} tokens in {reader.seconds:.1f} s")
            run = Run(
                kind="language_model",
                model=asdict(config),
                data=asdict(data),
                train=asdict(train),
                files={"train": names(train_files), "val": names(val_files),
                       "init_from": str(init_from) if init_from else None},
                derived={"tokenizer": tokenizer.save(out_dir),
                         "id_files": {p.name: int(p.stat().st_size // id_dtype(tokenizer.vocab_size).itemsize)
                                      for p in (out_dir / "data").glob("*.bin")}},
            )
            save_run(out_dir, run)
        publish_run()
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
    distributed.barrier()  # the best model is written

    return LanguageModel.load(out_dir, device=train.device)


ADAPTIVE_FROM = 10_000  # word vocabularies at least this large get an adaptive softmax


def _cutoffs(tokenizer, data: LMDataOptions, model: LMConfig | None) -> list[int] | None:
    """Adaptive-softmax clusters for a large word vocabulary (its ids are in frequency order):
    the 2,000 most frequent words, the next 8,000, and the rest. The decoder over 24,000 words
    costs about 7x the LSTM per token with a full softmax."""
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
        import time

        bar = None
        if self.progress:
            from tqdm.auto import tqdm

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
    return load_language_model(name_or_path, option="--init-from")


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
                                f"start a new run with --overwrite")
        return np.memmap(path, dtype=dtype, mode="r")

    if (cache / "all.bin").is_file():
        return split_stream(mapped("all.bin"), data.val_fraction)
    if (cache / "train.bin").is_file() and (cache / "val.bin").is_file():
        return mapped("train.bin"), mapped("val.bin")
    raise TrainingError(f"nothing to resume in {out_dir}: the encoded corpus in {cache} is missing")
