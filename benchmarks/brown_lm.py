"""Word-level LSTM language model on the Brown corpus, split as in Bengio et al. (2003).

Vocabulary: every token seen more than 3 times in train.txt, the rest <unk>; each line (one
sentence) ends with <eos>. Reports validation perplexity per token (<eos> counted as a token,
the usual convention) and per word (the same log-likelihood over whitespace words only, which is
stricter). Bengio et al. report 252 test perplexity for their neural model, 312-321 for the best
n-gram models.

    python benchmarks/brown_lm.py [--data-dir ../shared/data] [--out runs/brown] [--epochs 4]
    python benchmarks/brown_lm.py --evaluate-only      # report on a finished run in --out

`benchmarks/train_shipped.sh brown` runs the same training through the command line; its
model directory is shipped as `brown`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import seqtext
from seqtext.api import evaluate_files
from seqtext.core.trainer import TrainConfig
from seqtext.lm.model import LMConfig
from seqtext.lm.training import LMDataOptions, train_language_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--out", default="runs/brown")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--embedding-dim", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.35)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--bptt", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--evaluate-only", action="store_true", help="Only report on the model in --out.")
    args = parser.parse_args()

    brown = Path(args.data_dir) / "brown"
    started = time.time()
    if args.evaluate_only:
        lm = seqtext.load(args.out)
    else:
        lm = train_language_model(
            [str(brown / "train.txt")],
            args.out,
            LMConfig(vocab_size=0, embedding_dim=args.embedding_dim, hidden_size=args.hidden, num_layers=args.layers,
                     dropout=args.dropout, tie_weights=True),
            LMDataOptions(tokenizer="word", word_split="whitespace", min_freq=4, batch_size=args.batch_size,
                          bptt=args.bptt, weights_dtype="float16"),
            TrainConfig(epochs=args.epochs, lr=args.lr, warmup_steps=200, patience=2, seed=args.seed),
            val_files=[str(brown / "valid.txt")],
            resume=args.resume,
            log=print,
        )
    minutes = (time.time() - started) / 60
    result = evaluate_files(lm, [str(brown / "valid.txt")])
    result.update(vocab_size=lm.tokenizer.vocab_size, seconds_per_epoch=lm.metrics.get("seconds_per_epoch"))
    if not args.evaluate_only:
        result["train_minutes"] = round(minutes, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
