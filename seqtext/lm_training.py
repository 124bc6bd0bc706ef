"""Training a language model: corpus -> tokenizer -> id streams -> truncated BPTT with the
shared trainer.

Everything a resumed run needs to rebuild the same setup (options, tokenizer, encoded corpus)
is written into the output directory before the first step, so ``resume=True`` needs nothing
but the directory.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from seqtext.corpus import encode_stream, read_texts, split_stream
from seqtext.errors import DataError, SeqtextWarning, TrainingError
from seqtext.lm import LanguageModel, LMConfig, RecurrentLM, batchify, detach_state, stream_nll, window
from seqtext.tokenizers import TOKENIZERS, load_tokenizer, train_tokenizer
from seqtext.trainer import TrainConfig, Trainer, load_run, save_run

@dataclass
class LMDataOptions:
    tokenizer: str = "char"  # char | word | sentencepiece
    vocab_size: int = 4000  # sentencepiece only
    sp_model_type: str = "bpe"  # sentencepiece: bpe | unigram
    min_freq: int = 1  # char/word: rarer tokens become <unk>
    max_vocab: int | None = None  # char/word: keep at most this many tokens
    word_split: str = "regex"  # word: regex | whitespace
    lowercase: bool = False  # word
    text_column: str = "text"
    val_fraction: float = 0.1
    batch_size: int = 64
    bptt: int = 128
    eval_batch_size: int = 16
    reset_state: bool = False  # zero the hidden state at every window instead of carrying it
    weights_dtype: str = "float32"  # how the saved model stores its weights


@dataclass
class _Run:
    """What run.json holds."""

    model: dict
    data: dict
    train: dict
    tokenizer: dict = field(default_factory=dict)
    train_files: list = field(default_factory=list)
    val_files: list = field(default_factory=list)


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


class LMTask:
    """Truncated BPTT over ``batch_size`` parallel streams, hidden state carried and detached."""

    def __init__(self, network, tokenizer, train_ids, val_ids, data: LMDataOptions, info: dict):
        self.network = network
        self.tokenizer = tokenizer
        self.data = data
        self.info = info
        batch_size, self.bptt = _fit_batch(train_ids, data.batch_size, data.bptt, "training")
        self.streams = batchify(train_ids, batch_size)  # (B, N / B)
        self.val_ids = val_ids
        self.state = None

    def steps_per_epoch(self) -> int:
        return math.ceil((self.streams.shape[1] - 1) / self.bptt)

    def batches(self, epoch: int, start: int):
        if start == 0:
            self.state = None
        for index in range(start, self.steps_per_epoch()):
            yield window(self.streams, index * self.bptt, self.bptt)

    def loss(self, batch):
        inputs, targets = batch
        logits, state = self.network(inputs, None if self.data.reset_state else self.state)
        self.state = detach_state(state)
        weight = int((targets != -100).sum())
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
        return loss, weight

    def evaluate(self) -> dict:
        totals = stream_nll(self.network, self.val_ids, self.data.eval_batch_size, self.data.bptt)
        loss = totals["nll"] / totals["tokens"]
        return {"loss": loss, "perplexity": math.exp(loss), "bits_per_token": loss / math.log(2)}

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
    log=None,
    on_step=None,
) -> LanguageModel:
    """Train a language model on ``train_files`` and keep the best one in ``out_dir``.

    ``model.vocab_size`` is ignored: it comes from the tokenizer. With ``resume`` the options
    saved in ``out_dir`` are used and the other option arguments are ignored.
    """
    out_dir = Path(out_dir)
    log = log or (lambda message: None)
    if resume:
        run = _Run(**load_run(out_dir))
        data = LMDataOptions(**run.data)
        train = TrainConfig(**run.train)
        tokenizer = load_tokenizer(out_dir, run.tokenizer)
        config = LMConfig(**run.model)
        train_ids, val_ids = _load_cached_ids(out_dir, tokenizer)
    else:
        data = data or LMDataOptions()
        train = train or TrainConfig()
        if data.tokenizer not in TOKENIZERS:
            raise DataError(f"unknown tokenizer {data.tokenizer!r}: choose from {', '.join(TOKENIZERS)}")
        by_line = TOKENIZERS[data.tokenizer].line_based
        texts = read_texts(train_files, data.text_column, by_line=by_line)
        val_texts = read_texts(val_files, data.text_column, by_line=by_line) if val_files else None
        log(f"read {len(texts)} text(s), {sum(len(t) for t in texts):,} characters")
        tokenizer = train_tokenizer(data.tokenizer, texts, **_tokenizer_options(data))
        out_dir.mkdir(parents=True, exist_ok=True)
        cache = out_dir / "data"
        if val_texts is None:
            train_ids, val_ids = split_stream(encode_stream(texts, tokenizer, cache / "all.bin"), data.val_fraction)
        else:
            train_ids = encode_stream(texts, tokenizer, cache / "train.bin")
            val_ids = encode_stream(val_texts, tokenizer, cache / "val.bin")
        config = LMConfig(**{**asdict(model or LMConfig(vocab_size=0)), "vocab_size": tokenizer.vocab_size})
        run = _Run(
            model=asdict(config),
            data=asdict(data),
            train=asdict(train),
            tokenizer=tokenizer.save(out_dir),
            train_files=[str(f) for f in train_files],
            val_files=[str(f) for f in val_files or []],
        )
        save_run(out_dir, asdict(run))
    if len(val_ids) < 2:
        raise DataError("the validation text is empty; give a longer corpus, a --val-file or a larger --val-fraction")
    log(f"{tokenizer.kind} tokenizer, {tokenizer.vocab_size} tokens; {len(train_ids):,} training and {len(val_ids):,} validation tokens")
    torch.manual_seed(train.seed)
    network = RecurrentLM(config)
    params = sum(p.numel() for p in network.parameters())
    log(f"{config.cell} language model, {params:,} parameters")
    info = {
        "parameters": params,
        "train_files": run.train_files,
        "data": asdict(data),
        "train": {k: v for k, v in asdict(train).items() if k != "progress"},
    }
    task = LMTask(network, tokenizer, train_ids, val_ids, data, info)
    Trainer(task, train, out_dir, log=log).fit(resume=resume, on_step=on_step)
    from seqtext.modelio import load

    return load(out_dir)


def _load_cached_ids(out_dir: Path, tokenizer) -> tuple[np.ndarray, np.ndarray]:
    from seqtext.corpus import id_dtype

    cache = out_dir / "data"
    dtype = id_dtype(tokenizer.vocab_size)
    run = load_run(out_dir)
    if (cache / "all.bin").is_file():
        return split_stream(np.memmap(cache / "all.bin", dtype=dtype, mode="r"), run["data"]["val_fraction"])
    if (cache / "train.bin").is_file() and (cache / "val.bin").is_file():
        return np.memmap(cache / "train.bin", dtype=dtype, mode="r"), np.memmap(cache / "val.bin", dtype=dtype, mode="r")
    raise TrainingError(f"nothing to resume in {out_dir}: the encoded corpus in {cache} is missing")
