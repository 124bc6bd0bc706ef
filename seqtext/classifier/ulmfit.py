"""ULMFiT's first stages for ``train_classifier`` (Howard and Ruder 2018): the language models
``data.pretrained_lms`` names, checked to make one classifier, their vocabulary extended with the
training texts' words, and each fine-tuned on the training texts (never the dev texts) into
``OUTPUT/lm-finetuned`` (``lm-finetuned-backward`` for a backward one). The classifier's
schedule (gradual unfreezing, discriminative learning rates) is ``LMClassifierTask``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from seqtext.configs import ClassifierDataOptions, TrainConfig
from seqtext.core import distributed
from seqtext.core.registry import resolve as resolve_model
from seqtext.core.runs import Run, save_run
from seqtext.core.trainer import CHECKPOINT_FILE
from seqtext.errors import ConfigError, TrainingError
from seqtext.lm.model import LanguageModel, load_language_model
from seqtext.lm.training import train_language_model
from seqtext.text.tokenizers import WordTokenizer, storable

FINETUNED_DIRS = {"forward": "lm-finetuned", "backward": "lm-finetuned-backward"}
FINETUNE_TEXT = Path("data") / "lm-finetune.jsonl"  # the training texts, one document each
# What a language model decides for the classifier built on it: options that cannot be given with it.
LM_DECIDED = ("data.tokenizer", "data.vocab_size", "data.min_freq", "data.max_vocab", "data.lowercase", "data.embeddings",
              "model.cell", "model.num_layers", "model.hidden_size", "model.embedding_dim", "model.pooling")


def check_lm_options(data: ClassifierDataOptions, given: dict) -> None:
    """Refuse options the language models decide (``given`` as in ``train_classifier``)."""
    decided = [label for key, label in given.items() if key in LM_DECIDED]
    if decided or data.embeddings:
        raise ConfigError(f"{', '.join(decided) or 'data.embeddings'} cannot be given with data.pretrained_lms: the classifier "
                          f"takes the language model's tokenizer, embeddings and network shape")


def load_pretrained_lms(names_or_paths: list[str]) -> list[LanguageModel]:
    """The language models ``data.pretrained_lms`` names, checked to make one classifier: at
    most one forward and one backward model, with the same tokenizer and network shape."""
    lms = [load_language_model(name, option="data.pretrained_lms") for name in names_or_paths]
    directions = [direction(lm) for lm in lms]
    if len(set(directions)) != len(directions):
        raise ConfigError(f"data.pretrained_lms: give at most one forward and one backward language model, not {len(lms)} "
                          f"{directions[0]} ones")
    first = lms[0]
    for name, lm in zip(names_or_paths[1:], lms[1:]):
        if _tokenizer_identity(lm.tokenizer) != _tokenizer_identity(first.tokenizer):
            raise ConfigError(f"data.pretrained_lms {name}: its tokenizer differs from {names_or_paths[0]}'s; "
                              f"train both language models with the same data.tokenizer on the same text")
        if shape(lm.network.config) != shape(first.network.config):
            raise ConfigError(f"data.pretrained_lms {name}: its network ({shape(lm.network.config)}) differs from "
                              f"{names_or_paths[0]}'s ({shape(first.network.config)}); give both the same model.cell, "
                              f"model.num_layers, model.hidden_size and model.embedding_dim")
    return lms


def direction(lm: LanguageModel) -> str:
    return "backward" if lm.backward else "forward"


def shape(config) -> dict:
    """The network settings a classifier takes from its language model."""
    return {"cell": config.cell, "num_layers": config.num_layers, "hidden_size": config.hidden_size,
            "embedding_dim": config.embedding_dim}


def _tokenizer_identity(tokenizer) -> tuple:
    return (tokenizer.kind, getattr(tokenizer, "itos", None), getattr(tokenizer, "split_mode", None),
            getattr(tokenizer, "lowercase", None), getattr(tokenizer, "model_proto", None))


def extend_vocabulary(tokenizer, texts: list[str]):
    """A word language model's tokenizer with the words of ``texts`` it lacks appended, most
    frequent first (other tokenizers as they are): without them every such word would be <unk>
    to the n-gram path, the classifier's strongest part on a small corpus
    (docs/studies/training.md). The encoder starts them at the mean word vector."""
    if not isinstance(tokenizer, WordTokenizer):
        return tokenizer
    known = set(tokenizer.itos)
    counts = Counter(word for text in texts for word in tokenizer.split(text) if word not in known)
    new = [word for word, _ in counts.most_common() if storable(word)]
    if not new:
        return tokenizer
    return WordTokenizer(tokenizer.itos + new, tokenizer.split_mode, tokenizer.lowercase)


def finetune_language_models(out_dir: Path, run: Run, texts: list[str], data: ClassifierDataOptions, train: TrainConfig,
                             log) -> list:
    """ULMFiT's second stage: each pretrained language model of the run trained on ``texts``
    (one document each, so every text is framed <bos> ... <eos> as the classifier reads it) for
    ``data.lm_finetune_epochs`` into its subdirectory of ``out_dir``; a backward model goes on
    backwards. A run interrupted here resumes there. Returns the networks to start from."""
    sources = run.files["pretrained_lms"]
    if not data.lm_finetune_epochs:
        return [LanguageModel.load(resolve_model(source), device="cpu").network for source in sources]
    finetune = TrainConfig(epochs=data.lm_finetune_epochs, seed=train.seed, device=train.device, progress=train.progress,
                           checkpoint_every=train.checkpoint_every)
    networks = []
    for source, wanted in zip(sources, run.model["directions"]):
        target = out_dir / FINETUNED_DIRS[wanted]
        if target.name in run.derived.get("lm_finetuned", []):
            networks.append(LanguageModel.load(resolve_model(target), device="cpu").network)
            continue
        started = (target / CHECKPOINT_FILE).is_file()
        if not started and distributed.is_main():
            text = out_dir / FINETUNE_TEXT
            text.parent.mkdir(parents=True, exist_ok=True)
            text.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
        log(f"{'resuming the fine-tuning of' if started else 'fine-tuning'} the {wanted} language model {source} on the "
            f"training texts ({data.lm_finetune_epochs} epoch(s)) in {target}")
        lm = train_language_model([] if started else [str(out_dir / FINETUNE_TEXT)], target, train=finetune, resume=started,
                                  overwrite=not started, init_from=None if started else source, log=log)
        if lm.backward != (wanted == "backward"):
            raise TrainingError(f"{target} holds a {direction(lm)} language model where the run needs a {wanted} one; "
                                f"start a new run with overwrite=True")
        networks.append(lm.network.cpu())
        if distributed.is_main():
            run.derived["lm_finetuned"] = [*run.derived.get("lm_finetuned", []), target.name]
            save_run(out_dir, run)
    return networks
