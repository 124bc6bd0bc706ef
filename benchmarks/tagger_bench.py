"""Dev-set scores, training time per epoch and batched tagging throughput of the shipped
taggers, on the corpora in ../shared/data.

    python benchmarks/tagger_bench.py [--data-dir ../shared/data] [--models pos ner chunk pos-fast ner-fast chunk-fast]

The chunking dev set is the last 10 % of CoNLL-2000 train, held out when the model was trained
(see benchmarks/train_shipped.sh).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import seqtext
from seqtext.tagger.conll import read_sentences
from seqtext.tagger.scoring import evaluate_tagger


def dev_sentences(name: str, data: Path):
    name = name.removesuffix("-fast")  # pos-fast, ner-fast, chunk-fast: the taggers without LMs, on the same data
    if name == "pos":
        return read_sentences(str(data / "ud_ewt" / "en_ewt-ud-dev.conllu"))
    if name == "ner":
        return read_sentences(str(data / "conllpp" / "dev.txt"))
    sentences = read_sentences(str(data / "conll2000" / "train.txt"))
    return sentences[int(len(sentences) * 0.9) :]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--models", nargs="+", default=["pos", "ner", "chunk", "pos-fast", "ner-fast", "chunk-fast"])
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    data = Path(args.data_dir)
    for name in args.models:
        tagger = seqtext.load(name)
        gold = dev_sentences(name, data)
        report = evaluate_tagger(tagger, gold)
        tokens = [s.tokens for s in gold]
        start = time.perf_counter()
        tagger.tag(tokens, batch_size=args.batch_size)
        seconds = time.perf_counter() - start
        row = {
            "model": name,
            "dev_sentences": len(gold),
            "dev_accuracy": round(report["accuracy"] * 100, 2),
            "dev_f1": round(report["f1"] * 100, 2) if "f1" in report else None,
            "seconds_per_epoch": tagger.metrics.get("seconds_per_epoch"),
            "best_epoch": tagger.metrics.get("epoch"),
            "tokens_per_second": round(sum(len(t) for t in tokens) / seconds),
            "threads": torch.get_num_threads(),
        }
        print(json.dumps(row))


if __name__ == "__main__":
    main()
