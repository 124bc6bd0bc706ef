"""Are the shipped taggers' probabilities calibrated? Reliability tables on the dev sets.

    python benchmarks/calibration.py [--data-dir ../shared/data] [--models ner pos chunk] [--bins 10]

Each dev sentence's gold tokens go through ``predict_tokens``; a token counts as right when its
decoded tag equals the gold tag, both in the scheme the model was trained in (the CRF marginal
``score`` is the probability of exactly that tag). Tokens are put in equal-width bins of that
confidence; each row gives the count, the mean confidence and the accuracy, and the expected
calibration error is ECE = sum over bins of (count / N) * |accuracy - mean confidence|. For span
models a second table does the same for decoded spans (``Span.score``; right when the gold
sentence has that exact span). Dev sets: ner CoNLL++ dev; pos UD EWT dev; chunk the last 10 %
of CoNLL-2000 train, held out when the model was trained (see train_shipped.sh). A model whose
dev set is missing is skipped with a note.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import seqtext
from seqtext.tagger.conll import read_sentences
from seqtext.tagger.schemes import convert, detect_scheme, to_spans

DEV_SETS = {
    "ner": ("conllpp/dev.txt", "CoNLL++ dev"),
    "pos": ("ud_ewt/en_ewt-ud-dev.conllu", "UD English EWT dev"),
    "chunk": ("conll2000/train.txt", "CoNLL-2000 train, last 10 % (held out)"),
}
DEV_SETS.update({f"{name}-fast": DEV_SETS[name] for name in ("ner", "pos", "chunk")})  # the taggers without LMs


def dev_sentences(name: str, data: Path):
    path, _ = DEV_SETS[name]
    sentences = read_sentences(str(data / path))
    return sentences[int(len(sentences) * 0.9) :] if name.startswith("chunk") else sentences


def reliability(pairs: list[tuple[float, bool]], bins: int) -> tuple[list[tuple[float, float, int, float, float]], float]:
    """Rows ``(low, high, count, mean confidence, accuracy)`` of the non-empty bins, and the ECE."""
    grouped: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for confidence, right in pairs:
        grouped[min(int(confidence * bins), bins - 1)].append((confidence, right))
    rows, ece = [], 0.0
    for index, members in enumerate(grouped):
        if not members:
            continue
        confidence = sum(c for c, _ in members) / len(members)
        accuracy = sum(r for _, r in members) / len(members)
        rows.append((index / bins, (index + 1) / bins, len(members), confidence, accuracy))
        ece += len(members) / len(pairs) * abs(accuracy - confidence)
    return rows, ece


def print_table(title: str, pairs: list[tuple[float, bool]], bins: int) -> None:
    rows, ece = reliability(pairs, bins)
    overall = sum(r for _, r in pairs) / len(pairs)
    mean = sum(c for c, _ in pairs) / len(pairs)
    print(f"\n{title}: {len(pairs):,} items, accuracy {overall:.4f}, mean confidence {mean:.4f}, "
          f"ECE {ece:.4f} ({bins} equal-width bins)\n")
    print("| confidence | count | mean confidence | accuracy | gap |")
    print("|---|---|---|---|---|")
    for low, high, count, confidence, accuracy in rows:
        print(f"| {low:.1f}-{high:.1f} | {count:,} | {confidence:.4f} | {accuracy:.4f} | {accuracy - confidence:+.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="../shared/data", help="The benchmark corpora (read its README).")
    parser.add_argument("--models", nargs="+", default=["ner", "pos", "chunk", "pos-fast"], choices=sorted(DEV_SETS))
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    data = Path(args.data_dir)
    for name in args.models:
        path, description = DEV_SETS[name]
        if not (data / path).exists():
            print(f"\n{name}: skipped, {data / path} not found")
            continue
        tagger = seqtext.load(name)
        gold = dev_sentences(name, data)
        started = time.perf_counter()
        documents = tagger.predict_tokens([s.tokens for s in gold], scheme=tagger.train_scheme, batch_size=args.batch_size)
        seconds = time.perf_counter() - started
        source = detect_scheme([s.tags for s in gold]) if tagger.spans else "none"
        token_pairs, span_pairs = [], []
        for sentence, document in zip(gold, documents):
            tags = convert(sentence.tags, source, tagger.train_scheme) if tagger.spans else sentence.tags
            token_pairs += [(t.score, t.tag == g) for t, g in zip(document.tokens, tags)]
            if tagger.spans:
                truth = set(to_spans(tags, tagger.train_scheme))
                starts = {t.start_char: i for i, t in enumerate(document.tokens)}
                ends = {t.end_char: i + 1 for i, t in enumerate(document.tokens)}
                span_pairs += [(s.score, (s.label, starts[s.start_char], ends[s.end_char]) in truth) for s in document.spans]
        tokens = len(token_pairs)
        print(f"\n## {name}: {description}, {len(gold):,} sentences ({tokens / seconds:,.0f} tokens/s with marginals)")
        print_table(f"{name} tokens (CRF marginal of the decoded tag)", token_pairs, args.bins)
        if span_pairs:
            print_table(f"{name} spans (probability of the span as decoded)", span_pairs, args.bins)


if __name__ == "__main__":
    main()
