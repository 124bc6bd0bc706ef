"""The text a pretrained language model may learn from, gathered into one plain-text file:
``unlabelled/`` and ``brown/`` train and valid as they are, plus the *training* sides of the
labelled sets as running text (CoNLL words joined by spaces, EWT's ``# text`` lines). Dev and
test splits never go in. The last part written is held out by ``--val-fraction`` when training.

    python benchmarks/pretrain_corpus.py news -o ~/pretrain/news.txt      # for the taggers
    python benchmarks/pretrain_corpus.py reviews -o ~/pretrain/reviews.txt  # for review classifiers

``news``: CoNLL++, CoNLL-2000 and EWT training text, Brown, then unlabelled/news.txt (last, so
that validation is news). ``reviews``: unlabelled/reviews.txt only; SST-2 text is kept out, since
its sentences are the same Rotten Tomatoes snippets as common review-polarity corpora.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def conll_sentences(path: Path, word_column: int = 0):
    words: list[str] = []
    for line in path.open(encoding="utf-8"):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            if words:
                yield " ".join(words)
            words = []
        else:
            words.append(fields[word_column])
    if words:
        yield " ".join(words)


def conllu_texts(path: Path):
    for line in path.open(encoding="utf-8"):
        if line.startswith("# text = "):
            yield line[len("# text = "):].rstrip("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=["news", "reviews"])
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    args = parser.parse_args()
    data, out = Path(args.data_dir), Path(args.output).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as sink:
        if args.which == "news":
            for lines in (conll_sentences(data / "conllpp" / "train.txt"), conll_sentences(data / "conll2000" / "train.txt"),
                          conllu_texts(data / "ud_ewt" / "en_ewt-ud-train.conllu")):
                sink.writelines(f"{line}\n" for line in lines)
                sink.write("\n")
            for name in ("brown/train.txt", "brown/valid.txt", "unlabelled/news.txt"):
                sink.write((data / name).read_text(encoding="utf-8").rstrip("\n") + "\n\n")
        else:
            sink.write((data / "unlabelled" / "reviews.txt").read_text(encoding="utf-8"))
    print(f"{out}: {out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
