"""How robust are `seqtext train tagger`'s defaults? The tagger trained as a user's first run
does it (the training file alone: its held-out 10 % chooses the epoch), on small slices of
corpora it was not tuned on, then the dev file scored; beside it the most frequent tag of each
word learnt from the same slice, and candidate settings.

    python benchmarks/tagger_defaults.py [--data-dir ../shared/data] [--configs old,old-long,deep10,default] [--tasks ewt-upos-2k,...]
    python benchmarks/tagger_defaults.py --configs default,lm,emb,lm-emb --tasks ner-3k --embeddings runs/news-sg.txt

Configs ``lm`` and ``lm-emb`` read the character LMs of ``--pretrained-lm`` (default: the shipped
news-forward and news-backward), ``emb`` and ``lm-emb`` the word vectors of ``--embeddings``
(``seqtext train embeddings ../shared/data/unlabelled/news.txt --lowercase -o runs/news-sg.txt``);
every other option at its default.

Tasks (train -> dev), each the first N sentences of the training split after a fixed shuffle:
- ``ewt-upos-2k``, ``ewt-xpos-2k``: UD English EWT (web text: answers, email, newsgroups,
  reviews, weblogs; noisy spelling and punctuation), universal and Penn tags -> EWT dev;
- ``ner-3k``: CoNLL++ NER (BIO) -> CoNLL++ dev;
- ``chunk-2k``: CoNLL-2000 chunking -> the last 894 sentences of its train (never in a slice);
- ``ewt-upos-shift``: a domain the tagger never saw: 2,000 EWT training sentences of the edited
  genres (email, newsgroups, weblogs) -> the EWT dev sentences of the user-written ones (Yahoo
  answers, reviews: misspellings, no capitals, chat punctuation).
Each result line is printed as JSON as soon as it is measured (``--out`` keeps them).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from seqtext.api import evaluate_files
from seqtext.configs import TaggerConfig, TaggerDataOptions, TrainConfig
from seqtext.tagger import model as tagger_module
from seqtext.tagger.baselines import most_frequent_tag
from seqtext.tagger.conll import read_sentences
from seqtext.tagger.training import train_tagger

ROOT = Path(__file__).resolve().parents[1]

OLD = {"num_layers": 1, "dropout": 0.5, "char_hidden": 50}  # the defaults before this study
CONFIGS = {  # name -> overrides of (model, data, train[, constants of seqtext.tagger])
    "default": ({}, {}, {}),  # today's: 2 layers, dropout 0.33, char-hidden 64, batches of 32, 14 epochs
    "old": (OLD, {"batch_size": 16}, {"epochs": 10}),
    "old-long": (OLD, {"batch_size": 16}, {"epochs": 14}),
    "deep10": ({}, {}, {"epochs": 10}),
    "cnn": ({"char_encoder": "cnn"}, {}, {}),
    "drop5": ({"dropout": 0.5}, {}, {}),
    "small-init": ({}, {}, {}, {"SMALL_WORD_EMBEDDINGS": True}),  # word embeddings from +-0.1, not N(0, 1)
    "lm": ({}, {}, {}),  # with --pretrained-lm
    "emb": ({}, {}, {}),  # with --embeddings
    "lm-emb": ({}, {}, {}),  # with both
}


def _slice(sentences, size: int):
    sentences = list(sentences)
    random.Random(0).shuffle(sentences)
    return sentences[:size]


def ewt(data: Path, column: str, size: int):
    folder = data / "ud_ewt"
    train = read_sentences(str(folder / "en_ewt-ud-train.conllu"), tag_column=column)
    return _slice(train, size), read_sentences(str(folder / "en_ewt-ud-dev.conllu"), tag_column=column)


def _genres(path: Path) -> list[str]:
    """The genre of each sentence of an EWT file, from its ``# sent_id`` (``reviews-...``)."""
    with path.open(encoding="utf-8") as lines:
        return [line.split("=", 1)[1].strip().split("-", 1)[0] for line in lines if line.startswith("# sent_id")]


def ewt_shift(data: Path, size: int, seen=("email", "newsgroup", "weblog"), unseen=("answers", "reviews")):
    folder = data / "ud_ewt"
    split = {}
    for name in ("train", "dev"):
        path = folder / f"en_ewt-ud-{name}.conllu"
        sentences = read_sentences(str(path), tag_column="upos")
        genres = _genres(path)
        if len(genres) != len(sentences):
            raise SystemExit(f"{path}: {len(genres)} sentence ids for {len(sentences)} sentences")
        split[name] = [(sentence, genre) for sentence, genre in zip(sentences, genres)]
    train = [sentence for sentence, genre in split["train"] if genre in seen]
    dev = [sentence for sentence, genre in split["dev"] if genre in unseen]
    return _slice(train, size), dev


def ner(data: Path, size: int):
    return _slice(read_sentences(str(data / "conllpp" / "train.txt")), size), read_sentences(str(data / "conllpp" / "dev.txt"))


def chunk(data: Path, size: int):
    sentences = read_sentences(str(data / "conll2000" / "train.txt"))
    held = len(sentences) // 10
    return _slice(sentences[:-held], size), sentences[-held:]


TASKS = {
    "ewt-upos-2k": lambda data: ewt(data, "upos", 2000),
    "ewt-xpos-2k": lambda data: ewt(data, "xpos", 2000),
    "ner-3k": lambda data: ner(data, 3000),
    "chunk-2k": lambda data: chunk(data, 2000),
    "ewt-upos-shift": lambda data: ewt_shift(data, 2000),
}


def write_jsonl(path: Path, sentences) -> None:
    with path.open("w", encoding="utf-8") as out:
        for sentence in sentences:
            out.write(json.dumps({"tokens": sentence.tokens, "tags": sentence.tags}, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--work-dir", default="/tmp/seqtext-tagger-defaults")
    parser.add_argument("--configs", default="old,old-long,deep10,default")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--out", default=None, help="append the JSON lines here too")
    parser.add_argument("--pretrained-lm", action="append", default=None,
                        help="character LM for configs lm, lm-emb (repeatable; default news-forward and news-backward)")
    parser.add_argument("--embeddings", default=None, help="word vectors for configs emb, lm-emb")
    args = parser.parse_args()
    lms = args.pretrained_lm or ["news-forward", "news-backward"]
    if args.embeddings is None and any(name in ("emb", "lm-emb") for name in args.configs.split(",")):
        parser.error("configs emb and lm-emb need --embeddings")
    data, work = Path(args.data_dir), Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    sink = open(args.out, "a", encoding="utf-8") if args.out else None

    def emit(row: dict) -> None:
        line = json.dumps(row)
        print(line, flush=True)
        if sink:
            sink.write(line + "\n")
            sink.flush()

    defaults = {"SMALL_WORD_EMBEDDINGS": tagger_module.SMALL_WORD_EMBEDDINGS}
    for task in args.tasks.split(","):
        train, dev = TASKS[task](data)
        train_file, dev_file = work / f"{task}.train.jsonl", work / f"{task}.dev.jsonl"
        write_jsonl(train_file, train)
        write_jsonl(dev_file, dev)
        baseline = most_frequent_tag(train, dev)
        emit({"task": task, "config": "most-frequent-tag", "train": len(train), "accuracy": baseline["accuracy"], "f1": baseline.get("f1")})
        for name in args.configs.split(","):
            model, options, train_options, constants = (CONFIGS[name] + ({},))[:4]
            for key, value in {**defaults, **constants}.items():
                setattr(tagger_module, key, value)
            if name.startswith("lm"):
                options = {**options, "pretrained_lms": lms}
            if name.endswith("emb"):
                options = {**options, "embeddings": args.embeddings}
            started = time.perf_counter()
            tagger = train_tagger(str(train_file), None, work / f"{task}-{name}", TaggerConfig(0, 0, 0, **model),
                                  TaggerDataOptions(**options), TrainConfig(progress=False, **train_options), overwrite=True)
            report = evaluate_files(tagger, [str(dev_file)])
            emit({"task": task, "config": name, "train": len(train), "accuracy": report["accuracy"], "f1": report.get("f1"),
                  "epoch": tagger.metrics.get("epoch"), "seconds": round(time.perf_counter() - started, 1)})


if __name__ == "__main__":
    main()
