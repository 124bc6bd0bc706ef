"""The shipped sentiment model against a TF-IDF + logistic-regression baseline on SST-2:
dev accuracy, training time per epoch, classification throughput.

    pip install -e ".[bench]"      # scikit-learn, for the baseline only
    python benchmarks/sentiment_bench.py [--data-dir ../shared/data] [--model DIR] [--path-only]

``--path-only`` adds what skipping the network saves when the chooser keeps the n-gram path
alone (as it does on small corpora): the same model with the network at weight 0 against a
weight of 1e-12 (both parts computed, the same probabilities), timed in the same run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import seqtext
from seqtext.classifier.baselines import tfidf_logistic_regression_pipeline
from seqtext.classifier.data import read_examples
from seqtext.classifier.scoring import evaluate_classifier


def baseline(train, dev) -> dict:
    """The baseline `train classifier` prints (seqtext.classifier.baselines), with its speed."""
    start = time.perf_counter()
    model = tfidf_logistic_regression_pipeline().fit([e.text for e in train], [e.labels[0] for e in train])
    trained = time.perf_counter() - start
    start = time.perf_counter()
    predicted = model.predict([e.text for e in dev])
    seconds = time.perf_counter() - start
    accuracy = sum(p == e.labels[0] for p, e in zip(predicted, dev)) / len(dev)
    return {"dev_accuracy": round(100 * accuracy, 2), "train_seconds": round(trained, 1), "texts_per_second": round(len(dev) / seconds)}


def path_only_speed(classifier, texts: list[str], repeats: int = 3) -> dict:
    """texts/s with both parts computed and with the network skipped (weight 0), best of
    ``repeats`` each, and the largest difference between their probabilities."""
    paths = classifier.network.ngrams
    if paths is None:
        raise SystemExit(f"{classifier.network.config} has no n-gram path")
    kept = paths.recurrent_weight.clone()
    rates, probabilities = {}, {}
    for name, weight in (("both_parts", 1e-12), ("network_skipped", 0.0)):
        paths.recurrent_weight.fill_(weight)
        best = 0.0
        for _ in range(repeats):
            start = time.perf_counter()
            probabilities[name] = classifier.probabilities(texts)
            best = max(best, len(texts) / (time.perf_counter() - start))
        rates[name] = best
    paths.recurrent_weight.copy_(kept)
    return {"texts_per_second_both_parts": round(rates["both_parts"]), "texts_per_second_network_skipped": round(rates["network_skipped"]),
            "ratio": round(rates["network_skipped"] / rates["both_parts"], 1),
            "max_probability_difference": float((probabilities["both_parts"] - probabilities["network_skipped"]).abs().max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--model", default="sentiment")
    parser.add_argument("--path-only", action="store_true", help="also time the model with the network at weight 0")
    args = parser.parse_args()
    sst2 = Path(args.data_dir) / "sst2"
    dev = read_examples(str(sst2 / "sentences.dev"))
    classifier = seqtext.load(args.model)
    report = evaluate_classifier(classifier, read_examples(str(sst2 / "sentences.dev")))
    texts = [e.text for e in dev] * 5
    start = time.perf_counter()
    for _ in classifier.predict(texts):
        pass
    rate = len(texts) / (time.perf_counter() - start)
    print(json.dumps({"model": args.model, "dev_accuracy": round(100 * report["accuracy"], 2),
                      "seconds_per_epoch": classifier.metrics.get("seconds_per_epoch"),
                      "texts_per_second": round(rate)}))
    if args.path_only:
        print(json.dumps(path_only_speed(classifier, [e.text for e in dev])))
    for name, path, column in (("sentences.train", sst2 / "sentences.train", "text"), ("phrases.train.tsv", sst2 / "phrases.train.tsv", "sentence")):
        train = read_examples(str(path), text_column=column)
        print(json.dumps({"model": f"tfidf+logreg on {name}", **baseline(train, dev)}))


if __name__ == "__main__":
    main()
