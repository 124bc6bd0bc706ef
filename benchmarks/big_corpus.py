"""Training on a corpus that does not fit comfortably in memory: a text file of about 1 GB,
`seqtext train lm FILE --max-steps 5`, with the peak resident memory of the whole process and
the wall time split into counting the vocabulary, encoding and training.

    python benchmarks/big_corpus.py [--data-dir ../shared/data] [--size-mb 1024] [--work-dir /tmp/seqtext-big]

The file is built from the real text in ``DATA_DIR/unlabelled/`` and ``corpora/shakespeare.txt``,
repeated to the size asked for, in ``--work-dir`` (never in the repository).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_corpus(path: Path, size_mb: int, data_dir: Path) -> None:
    if path.is_file() and path.stat().st_size >= size_mb * 2**20:
        return
    sources = [ROOT / "corpora" / "shakespeare.txt", *sorted((data_dir / "unlabelled").glob("*.txt"))]
    block = "\n\n".join(p.read_text(encoding="utf-8") for p in sources if p.is_file()).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        written = 0
        while written < size_mb * 2**20:
            out.write(block)
            written += len(block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--work-dir", default="/tmp/seqtext-big")
    parser.add_argument("--tokenizer", default="char")
    args = parser.parse_args()
    work = Path(args.work_dir)
    corpus = work / f"corpus-{args.size_mb}mb.txt"
    build_corpus(corpus, args.size_mb, Path(args.data_dir))
    command = [sys.executable, "-m", "seqtext.cli.main", "train", "lm", str(corpus), "-o", str(work / "run"), "--overwrite",
               "--max-steps", "5", "--tokenizer", args.tokenizer, "--device", "cpu"]
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(result.stderr[-3000:])
    log = result.stderr
    counting = float(re.search(r"counted .* in ([\d.]+) s", log).group(1))
    encoding = float(re.search(r"encoded .* in ([\d.]+) s", log).group(1))
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", log).group(1))
    size = corpus.stat().st_size
    print(json.dumps({
        "corpus_bytes": size,
        "peak_rss_gb": round(peak_kb / 2**20, 3),
        "wall_s": round(wall, 1),
        "counting_s": counting,
        "encoding_s": encoding,
        "training_and_startup_s": round(wall - counting - encoding, 1),
        "counting_mb_per_s": round(size / 2**20 / counting, 1),
        "encoding_mb_per_s": round(size / 2**20 / encoding, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
