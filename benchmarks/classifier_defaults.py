"""How robust are `seqtext train classifier`'s defaults? Candidate settings on many small corpora
built only from training and dev splits we may tune on, each next to bigram TF-IDF + logistic
regression fitted on the same split.

    python benchmarks/classifier_defaults.py [--data-dir ../shared/data] [--configs default,drop5] [--tasks sst-1k,...]
    python benchmarks/classifier_defaults.py --configs default,lm --pretrained-lm runs/reviews-lm --tasks sst-7k
    python benchmarks/classifier_defaults.py --configs default,no-spelling --tasks sst-1k,sst-3k --shuffles 0,1,2,3,4

Configs ``lm*`` train on language models (``--pretrained-lm``, ULMFiT), ``emb`` on word vectors
(``--embeddings``), all other options at their defaults. Each line also gives the network's own
accuracy on the held-out share (``network_held_out``): where the n-gram path alone is kept, the
only trace of how good the network became.

Tasks (train -> dev):
- ``sst-1k``, ``sst-3k``, ``sst-7k``: SST-2 training sentences (the first 1,000 / 3,000 / all
  6,920 after a shuffle, seed 0 or each of ``--shuffles``; for sst-7k the shuffle changes the
  held-out share) -> the 872 dev sentences;
- ``sst-phrases-20k``: 20,000 of SST-2's training phrases -> the dev sentences;
- ``sst-phrases-all``: all 67,349 of them (what the shipped ``sentiment`` trains on) -> the dev sentences;
- ``ewt-genre``: the genre of an EWT training sentence (answers, email, newsgroup, reviews,
  weblog; from its sent_id), 5 classes -> EWT dev sentences.
Each result line is printed as JSON as soon as it is measured (``--out`` keeps them).

The model trains as a user's first run does, on the training file alone: its held-out share
(``--dev-fraction``, 10 %) chooses the epoch and the n-gram weight, and the dev file is scored
afterwards, never seen in training (``--dev-chooses`` gives the dev file to training instead, the
optimistic way).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from seqtext.classifier import ngrams
from seqtext.classifier.baselines import tfidf_logistic_regression
from seqtext.classifier.data import read_examples
from seqtext.classifier.scoring import evaluate_classifier
from seqtext.classifier.training import train_classifier
from seqtext.configs import ClassifierConfig, ClassifierDataOptions, TrainConfig

ROOT = Path(__file__).resolve().parents[1]

CONFIGS = {  # name -> overrides of (model, data, train[, seqtext.classifier.ngrams constants])
    "default": ({}, {}, {}),
    "rnn-only": ({"ngram_buckets": 0}, {}, {}),
    "c1": ({}, {}, {}, {"L2_C": 1.0}),
    "c3": ({}, {}, {}, {"L2_C": 3.0}),
    "no-spelling": ({}, {}, {}, {"SPELLING_NGRAMS": None}),  # the n-gram path of words alone, as before
    "spell14": ({}, {}, {}, {"SPELLING_NGRAMS": (1, 4)}),
    "spell36": ({}, {}, {}, {"SPELLING_NGRAMS": (3, 6)}),
    "sig2": ({}, {}, {}, {"SIGNIFICANCE": 2.0}),  # how clearly the network must beat the path alone to count
    "sig3": ({}, {}, {}, {"SIGNIFICANCE": 3.0}),
    "sig4": ({}, {}, {}, {"SIGNIFICANCE": 4.0}),
    "lowercase": ({}, {"lowercase": True}, {}),
    "drop5": ({"dropout": 0.5}, {}, {}),
    "normal-init": ({"small_embeddings": False}, {}, {}),  # embeddings from N(0, 1), as before
    "lm": ({}, {}, {}),  # lm*: --pretrained-lm DIR (ULMFiT), with every other option at its default
    "lm-lr2e-3": ({}, {}, {"lr": 2e-3}),
    "lm-lr5e-3": ({}, {}, {"lr": 5e-3}),
    "lm-lr1e-2": ({}, {}, {"lr": 1e-2}),
    "lm-ft3": ({}, {"lm_finetune_epochs": 3}, {}),
    "lm-ft6": ({}, {"lm_finetune_epochs": 6}, {}),
    "emb": ({}, {}, {}),  # --embeddings FILE (word vectors), every other option at its default
}


def sst(data: Path, size: int | None, shuffle: int = 0) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    def read(path):
        return [(line[2:].strip(), line[0]) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    train = read(data / "sst2" / "sentences.train")
    random.Random(shuffle).shuffle(train)
    return train[:size] if size else train, read(data / "sst2" / "sentences.dev")


def sst_phrases(data: Path, size: int | None, shuffle: int = 0):
    lines = (data / "sst2" / "phrases.train.tsv").read_text(encoding="utf-8").splitlines()[1:]
    phrases = [(text, label) for label, text in (line.split("\t", 1) for line in lines)]
    random.Random(shuffle).shuffle(phrases)
    return phrases[:size], sst(data, None)[1]


def ewt_genre(data: Path):
    def read(path):
        examples, genre = [], None
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("# sent_id = "):
                genre = line[len("# sent_id = "):].split("-", 1)[0]
            elif line.startswith("# text = "):
                examples.append((line[len("# text = "):], genre))
        return examples

    return read(data / "ud_ewt" / "en_ewt-ud-train.conllu"), read(data / "ud_ewt" / "en_ewt-ud-dev.conllu")


TASKS = {  # name -> (data dir, shuffle seed) -> (train, dev)
    "sst-1k": lambda d, s: sst(d, 1000, s), "sst-3k": lambda d, s: sst(d, 3000, s), "sst-7k": lambda d, s: sst(d, None, s),
    "sst-phrases-20k": lambda d, s: sst_phrases(d, 20000, s),
    "sst-phrases-all": lambda d, s: sst_phrases(d, None, s), "ewt-genre": lambda d, s: ewt_genre(d),
}
# Tasks a shuffle seed changes: the examples drawn, or for sst-7k (all of them) their order, and
# with it which 10 % the run holds out to choose the epoch and the network's weight.
SAMPLED = {"sst-1k", "sst-3k", "sst-7k", "sst-phrases-20k", "sst-phrases-all"}


def write_tsv(path: Path, examples) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("label\ttext\n")
        for text, label in examples:
            out.write(f"{label}\t{' '.join(text.split())}\n")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--work-dir", default="/tmp/seqtext-cls")
    parser.add_argument("--configs", default=",".join(c for c in CONFIGS if not c.startswith("lm") and c != "emb"))
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--out", default=None, help="append the JSON lines here too")
    parser.add_argument("--pretrained-lm", action="append", default=None,
                        help="language model(s) for config lm (a forward and/or a backward one)")
    parser.add_argument("--embeddings", default=None, help="word vectors for config emb")
    parser.add_argument("--dev-chooses", action="store_true", help="give the dev file to training (it chooses the epoch)")
    parser.add_argument("--shuffles", default="0", help="shuffle seeds, comma-separated: each draws another sample of the "
                        "sst-1k, sst-3k, sst-7k and sst-phrases tasks (one result line per sample)")
    args = parser.parse_args()
    names = args.configs.split(",")
    if any(name.startswith("lm") for name in names) and not args.pretrained_lm:
        parser.error("config lm needs --pretrained-lm")
    if "emb" in names and not args.embeddings:
        parser.error("config emb needs --embeddings")
    return args


def config_options(name: str, args: argparse.Namespace) -> tuple[dict, dict, dict, dict]:
    """The overrides of config ``name``: (model, data, train, seqtext.classifier.ngrams constants)."""
    model, options, train_options, constants = (CONFIGS[name] + ({},))[:4]
    if name.startswith("lm"):
        options = {**options, "pretrained_lms": args.pretrained_lm}
    if name == "emb":
        options = {**options, "embeddings": args.embeddings}
    return model, options, train_options, constants


def main() -> None:
    args = parse_args()
    data, work = Path(args.data_dir), Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    sink = open(args.out, "a", encoding="utf-8") if args.out else None

    results = []

    def emit(row: dict) -> None:
        results.append(row)
        line = json.dumps({k: v for k, v in row.items() if k not in ("name", "metric", "score")})
        print(line, flush=True)
        if sink:
            sink.write(line + "\n")
            sink.flush()

    defaults = {key: getattr(ngrams, key) for key in ("L2_C", "WORD_ONLY_L2_C", "NB_ALPHA", "SPELLING_NGRAMS", "SIGNIFICANCE")}
    samples = [(task, int(seed)) for task in args.tasks.split(",")
               for seed in (args.shuffles.split(",") if task in SAMPLED else ["0"])]
    for task, shuffle in samples:
        train, dev = TASKS[task](data, shuffle)
        train_file, dev_file = work / f"{task}.train.tsv", work / f"{task}.dev.tsv"
        write_tsv(train_file, train)
        write_tsv(dev_file, dev)
        emit({"task": task, "shuffle": shuffle, "config": "tfidf-lr", "train": len(train),
              **tfidf_logistic_regression([t for t, _ in train], [[l] for _, l in train], [t for t, _ in dev],
                                          [[l] for _, l in dev])})
        for name in args.configs.split(","):
            model, options, train_options, constants = config_options(name, args)
            for key, value in {**defaults, **constants}.items():
                setattr(ngrams, key, value)
            started = time.perf_counter()
            classifier = train_classifier(str(train_file), str(dev_file) if args.dev_chooses else None, work / f"{task}-{name}",
                                          ClassifierConfig(0, 0, **model), ClassifierDataOptions(**options),
                                          TrainConfig(progress=False, **train_options), overwrite=True)
            report = evaluate_classifier(classifier, read_examples([str(dev_file)]))
            emit({"task": task, "shuffle": shuffle, "config": name, "train": len(train), "accuracy": report["accuracy"],
                  "held_out": classifier.metrics["accuracy"], "recurrent_weight": classifier.metrics.get("recurrent_weight"),
                  "network_held_out": classifier.metrics.get("recurrent_score"),
                  "epoch": classifier.metrics.get("epoch"), "seconds": round(time.perf_counter() - started, 1)})
    summarize(results)


def summarize(results: list[dict]) -> None:
    """Per task and config: mean accuracy over the samples, and the mean and smallest margin over
    TF-IDF + LR on the same sample (points)."""
    baseline = {(r["task"], r["shuffle"]): r["accuracy"] for r in results if r["config"] == "tfidf-lr"}
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in results:
        groups.setdefault((row["task"], row["config"]), []).append(row)
    for (task, config), rows in groups.items():
        accuracy = [100 * r["accuracy"] for r in rows]
        margins = [100 * (r["accuracy"] - baseline[task, r["shuffle"]]) for r in rows]
        print(f"{task:16} {config:12} samples {len(rows)}  accuracy {sum(accuracy) / len(rows):6.2f}"
              + ("" if config == "tfidf-lr" else f"  over TF-IDF + LR: mean {sum(margins) / len(rows):+.2f}, "
                 f"least {min(margins):+.2f}"), flush=True)


if __name__ == "__main__":
    main()
