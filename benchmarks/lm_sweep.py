"""The sweep behind `train lm`'s choice of token unit and network size (#23): corpus size x time
budget x configuration, each trained with `seqtext train lm --max-time` and scored on one held-out
text with `seqtext evaluate` (bits per character with nothing free: an <unk> pays for its spelling).

    python benchmarks/lm_sweep.py [--data-dir ../shared/data] [--work-dir ~/runs/sweep]
        [--sizes 300k,3m,20m] [--budgets 5m,30m] [--configs default,char-s,...] [--table]

Corpora are slices of one pool that interleaves blocks of the unlabelled news and review text and
Brown's training text, so every slice mixes the three; the held-out text is 100 KB from the end of
each source, never in the pool. Each finished run appends one JSON line to WORK_DIR/results.jsonl
and is skipped when the sweep runs again, so a sweep that is stopped goes on where it was. Run
nothing else meanwhile: the budget is wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("unlabelled/news.txt", "unlabelled/reviews.txt", "brown/train.txt")
HELD_OUT_SHARE = 0.05  # the end of each source, never trained on
HELD_OUT_BYTES = 100_000  # per source in the evaluation text
BLOCK_BYTES = 50_000  # the pool takes the sources in turns, a block at a time

LEGACY = {  # the fixed defaults before the budget rule: characters under 3 MB, words from there on
    "char": ["--tokenizer", "char", "--layers", "2", "--hidden", "512", "--embedding-dim", "128", "--dropout", "0.2"],
    "word": ["--tokenizer", "word", "--layers", "1", "--hidden", "256", "--embedding-dim", "256", "--dropout", "0.3",
             "--singleton-unk", "0"],
}
CONFIGS = {
    "auto": [],  # the budget rule (seqtext/lm/sizing.py)
    "default": LEGACY,  # the defaults before it, by corpus size (legacy_flags)
    "char-s": ["--tokenizer", "char", "--layers", "1", "--hidden", "256", "--embedding-dim", "64", "--dropout", "0.1"],
    "char-m": ["--tokenizer", "char", "--layers", "2", "--hidden", "512"],
    # Word rows as measured, before --singleton-unk (2026-12-07): it gives words 4.7 % on 3 MB.
    "word-s": ["--tokenizer", "word", "--layers", "1", "--hidden", "256", "--embedding-dim", "256", "--dropout", "0.3",
               "--singleton-unk", "0"],
    "word-m": ["--tokenizer", "word", "--layers", "2", "--hidden", "512", "--embedding-dim", "400", "--dropout", "0.4",
               "--singleton-unk", "0"],
    "sp-xs": ["--tokenizer", "sentencepiece", "--vocab-size", "4000", "--layers", "1", "--hidden", "256", "--embedding-dim", "128"],
    "sp-s": ["--tokenizer", "sentencepiece", "--vocab-size", "4000", "--layers", "1", "--hidden", "512"],
    "sp-m": ["--tokenizer", "sentencepiece", "--vocab-size", "8000", "--layers", "2", "--hidden", "512", "--dropout", "0.2"],
}


def parse_size(text: str) -> int:
    """``300k``, ``3m``, ``20m`` or a number of bytes."""
    units = {"k": 1_000, "m": 1_000_000}
    return int(float(text[:-1]) * units[text[-1].lower()]) if text[-1].lower() in units else int(text)


def parse_seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def split_sources(data_dir: Path) -> tuple[list[list[str]], str]:
    """Each source's training lines, and the held-out text (the end of every source)."""
    training, held_out = [], []
    for name in SOURCES:
        lines = (data_dir / name).read_text(encoding="utf-8").splitlines(keepends=True)
        cut = int(len(lines) * (1 - HELD_OUT_SHARE))
        training.append(lines[:cut])
        tail, size = [], 0
        for line in lines[cut:]:
            if size >= HELD_OUT_BYTES:
                break
            tail.append(line)
            size += len(line.encode("utf-8"))
        held_out.append("".join(tail))
    return training, "\n".join(held_out)


def pool_slice(training: list[list[str]], size: int) -> str:
    """The first ``size`` bytes of the pool: blocks of whole lines from each source in turn."""
    positions, parts, total = [0] * len(training), [], 0
    while total < size and any(p < len(lines) for p, lines in zip(positions, training)):
        for i, lines in enumerate(training):
            block = 0
            while positions[i] < len(lines) and block < BLOCK_BYTES and total < size:
                line = lines[positions[i]]
                parts.append(line)
                positions[i] += 1
                block += len(line.encode("utf-8"))
                total += len(line.encode("utf-8"))
    return "".join(parts)


def prepare(data_dir: Path, work: Path, sizes: list[int]) -> tuple[dict[int, Path], Path]:
    work.mkdir(parents=True, exist_ok=True)
    training, held_out = split_sources(data_dir)
    held_out_path = work / "held_out.txt"
    held_out_path.write_text(held_out, encoding="utf-8")
    corpora = {}
    for size in sizes:
        path = work / f"corpus-{size}.txt"
        if not path.is_file():
            path.write_text(pool_slice(training, size), encoding="utf-8")
        corpora[size] = path
    return corpora, held_out_path


def seqtext(*args: str, threads: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "seqtext.cli.main", *args], capture_output=True, text=True, env=env)


def flags_for(name: str, size: int) -> list[str]:
    """A configuration's flags for a corpus of ``size`` bytes."""
    flags = CONFIGS[name]
    return flags["word" if size >= 3_000_000 else "char"] if isinstance(flags, dict) else flags


def run_cell(corpus: Path, held_out: Path, budget: int, flags: list[str], out: Path, threads: int) -> dict:
    started = time.perf_counter()
    trained = seqtext("train", "lm", str(corpus), "-o", str(out), "--overwrite", "--quiet", "--max-time", str(budget),
                      *flags, threads=threads)
    seconds = time.perf_counter() - started
    if trained.returncode != 0:
        return {"error": (trained.stderr.strip().splitlines() or ["?"])[-1], "train_seconds": seconds}
    scored = seqtext("evaluate", str(out), str(held_out), "--json", "--quiet", threads=threads)
    if scored.returncode != 0:
        return {"error": (scored.stderr.strip().splitlines() or ["?"])[-1], "train_seconds": seconds}
    result = json.loads(scored.stdout)
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    keep = ("bits_per_character", "bits_per_character_unk_free", "unknown_tokens", "perplexity", "word_perplexity")
    return {**{k: result.get(k) for k in keep}, "train_seconds": round(seconds, 1), "unit": config["tokenizer"]["kind"],
            "model": config["model"], "best_step": metrics.get("step"), "best_epoch": metrics.get("epoch")}


def done_cells(results: Path) -> set[tuple]:
    if not results.is_file():
        return set()
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {(r["size"], r["budget"], r["config"]) for r in rows if "error" not in r}  # a failed cell runs again


def table(results: Path) -> str:
    """Markdown: one row per corpus size and budget, bits per character of each configuration."""
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]
    names = [n for n in CONFIGS if any(r["config"] == n for r in rows)]
    lines = ["| corpus | budget | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for size, budget in sorted({(r["size"], r["budget"]) for r in rows}):
        cell = {r["config"]: r for r in rows if (r["size"], r["budget"]) == (size, budget)}
        scores = {n: cell[n].get("bits_per_character") for n in names if n in cell}
        best = min((v for v in scores.values() if v is not None), default=None)
        shown = [("**%.3f**" if scores.get(n) == best else "%.3f") % scores[n] if scores.get(n) is not None else "-"
                 for n in names]
        lines.append(f"| {size / 1e6:g} MB | {budget // 60} min | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--work-dir", default=str(Path.home() / "runs" / "sweep"))
    parser.add_argument("--sizes", default="300k,3m,20m")
    parser.add_argument("--budgets", default="5m,30m")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--table", action="store_true", help="Only print the table of what has run.")
    args = parser.parse_args()
    work = Path(args.work_dir).expanduser()
    results = work / "results.jsonl"
    if args.table:
        print(table(results))
        return
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    corpora, held_out = prepare(Path(args.data_dir), work, sizes)
    done = done_cells(results)
    for budget in (parse_seconds(b) for b in args.budgets.split(",")):
        for size in sizes:
            names = args.configs.split(",")
            for i, name in enumerate(names):
                flags = flags_for(name, size)
                if (size, budget, name) in done or any(flags == flags_for(other, size) for other in names[:i]):
                    continue  # done, or the same flags as a configuration before it (char-m is the default under 3 MB)
                out = work / "runs" / f"{size}-{budget}-{name}"
                row = {"size": size, "budget": budget, "config": name, "flags": flags,
                       **run_cell(corpora[size], held_out, budget, flags, out, args.threads)}
                with open(results, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
    print(table(results))


if __name__ == "__main__":
    main()
