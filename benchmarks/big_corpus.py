"""Training on a corpus that does not fit comfortably in memory: a text file of about 1 GB,
`seqtext train lm FILE --max-steps 5 --max-time 10m --tokenizer UNIT` (the default budget, which
also bounds the validation during training, ended after 5 steps), with the peak resident memory of the
whole process, the time to the first training step, and each stage's speed in MB/s: counting
the vocabulary, encoding the corpus into token ids, and the rest (start-up, the network, the
probe of a few steps, the first step).

    python benchmarks/big_corpus.py [--tokenizer auto|char|word|sentencepiece] [--size-mb 1024]
                                    [--val-fraction F] [--data-dir ../shared/data] [--work-dir /tmp/seqtext-big] [--delete]

The file is built from the real text in ``DATA_DIR/unlabelled/`` and ``corpora/shakespeare.txt``,
repeated to the size asked for, in ``--work-dir`` (never in the repository). For speed per core,
pin it: ``OMP_NUM_THREADS=1 taskset -c 1 python benchmarks/big_corpus.py ...``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
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


def run_timed(command: list[str]) -> tuple[list[tuple[float, str]], int]:
    """Run ``command`` under ``/usr/bin/time -v``; its stderr lines, each with the seconds since
    the start at which it came, and the exit status."""
    started = time.perf_counter()
    process = subprocess.Popen(["/usr/bin/time", "-v", *command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, bufsize=1)
    lines = [(time.perf_counter() - started, line.rstrip("\n")) for line in process.stderr]
    return lines, process.wait()


def first(lines, pattern: str):
    """The first line matching ``pattern``: (its time, the match), or (None, None)."""
    for when, line in lines:
        found = re.search(pattern, line)
        if found:
            return when, found
    return None, None


def report(lines, size: int, tokenizer: str) -> dict:
    log = "\n".join(line for _, line in lines)
    counted_at, counting = first(lines, r"counted .* in ([\d.]+) s")
    encoded_at, encoding = first(lines, r"encoded ([\d,]+) tokens in ([\d.]+) s")
    started_at, _ = first(lines, r"^plan: ")  # printed once the probe steps ran, as the training loop starts
    unit_line = re.search(r"^(\w+) tokenizer, (\d+) tokens", log, re.M)
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", log).group(1))
    mb = size / 2**20
    read_s = float(counting.group(1))  # the pass over the files; SentencePiece trains after it
    encoding_s = encoded_at - counted_at  # wall time between the two lines
    return {
        "tokenizer": tokenizer,
        "unit": unit_line.group(1) if unit_line else None,
        "vocab_size": int(unit_line.group(2)) if unit_line else None,
        "corpus_mb": round(mb, 1),
        "tokens": int(encoding.group(1).replace(",", "")),
        "peak_rss_gb": round(peak_kb / 2**20, 3),
        "first_step_s": round(started_at, 1),
        "wall_s": round(lines[-1][0], 1),
        # counting: from the start of the process (Python and torch imported, ~1 s) to the vocabulary
        "stages_s": {"counting": round(counted_at, 1), "of_which_reading": read_s, "encoding": round(encoding_s, 1),
                     "network_and_probe": round(started_at - encoded_at, 1)},
        "mb_per_s": {"counting": round(mb / counted_at, 1), "encoding": round(mb / encoding_s, 1),
                     "to_first_step": round(mb / started_at, 1)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--work-dir", default="/tmp/seqtext-big")
    parser.add_argument("--tokenizer", default="auto", choices=("auto", "char", "word", "sentencepiece"))
    parser.add_argument("--max-steps", type=int, default=5)
    parser.add_argument("--val-fraction", type=float, default=None,
                        help="held out for validation (default: train's); the probe before the first step evaluates all of it")
    parser.add_argument("--delete", action="store_true", help="remove the corpus and the run afterwards")
    args = parser.parse_args()
    work = Path(args.work_dir)
    corpus = work / f"corpus-{args.size_mb}mb.txt"
    build_corpus(corpus, args.size_mb, Path(args.data_dir))
    command = [sys.executable, "-m", "seqtext.cli.main", "train", "lm", str(corpus), "-o", str(work / "run"), "--overwrite",
               "--max-steps", str(args.max_steps), "--max-time", "10m", "--tokenizer", args.tokenizer, "--device", "cpu"]
    if args.val_fraction is not None:
        command += ["--val-fraction", str(args.val_fraction)]
    try:
        lines, status = run_timed(command)
        if status != 0:
            sys.exit("\n".join(line for _, line in lines)[-3000:])
        print(json.dumps({**report(lines, corpus.stat().st_size, args.tokenizer), "val_fraction": args.val_fraction}, indent=2))
    finally:
        if args.delete:
            corpus.unlink(missing_ok=True)
            shutil.rmtree(work / "run", ignore_errors=True)


if __name__ == "__main__":
    main()
