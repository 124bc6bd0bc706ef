"""seqtext next to the program most users would try instead, on that program's own task.

Runs pytorch/examples ``word_language_model/main.py`` (unchanged, from ``../shared/peers``, as
an external program) for one epoch on word-level tiny Shakespeare (split by
``../shared/peers/prepare_shakespeare_words.py``) and records its wall time T and validation
perplexity; then ``seqtext train lm`` on the same files with ``--tokenizer word --word-split
whitespace --min-freq 1``, seqtext's own defaults otherwise, and ``--max-time T/2``; then
``seqtext evaluate`` on the validation file. Goal: in half the peer's time, a validation
perplexity at or below the peer's.

    python benchmarks/peer_lm.py [--data-dir ../shared/data] [--work-dir /tmp/seqtext-peer] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(command: list[str], env: dict) -> tuple[str, float]:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} failed:\n{result.stderr[-2000:]}")
    return result.stdout + result.stderr, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--peers", default=str(ROOT.parent / "shared" / "peers"))
    parser.add_argument("--work-dir", default="/tmp/seqtext-peer")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    work, peers = Path(args.work_dir), Path(args.peers)
    words = work / "words"
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    run([sys.executable, str(peers / "prepare_shakespeare_words.py"), str(Path(args.data_dir) / "shakespeare" / "input.txt"),
         str(words)], env)

    output, peer_seconds = run([sys.executable, str(peers / "word_language_model" / "main.py"), "--data", str(words),
                                "--epochs", "1", "--save", str(work / "peer.pt")], env)
    peer_ppl = float(re.search(r"end of epoch\s+1 .*valid ppl\s+([\d.]+)", output).group(1))

    budget = peer_seconds / 2
    out = work / "seqtext"
    _, ours_seconds = run([sys.executable, "-m", "seqtext.cli.main", "train", "lm", str(words / "train.txt"), "--val-file",
                           str(words / "valid.txt"), "--tokenizer", "word", "--word-split", "whitespace", "--min-freq", "1",
                           "--max-time", f"{budget:.1f}", "-o", str(out), "--overwrite", "--quiet", "--device", "cpu"], env)
    evaluated, _ = run([sys.executable, "-m", "seqtext.cli.main", "evaluate", str(out), str(words / "valid.txt"), "--json",
                        "--device", "cpu"], env)
    ours = json.loads(evaluated.strip().splitlines()[-1])
    print(json.dumps({
        "threads": args.threads,
        "peer_seconds": round(peer_seconds, 1),
        "peer_valid_ppl": peer_ppl,
        "seqtext_max_time": round(budget, 1),
        "seqtext_wall_seconds_with_startup": round(ours_seconds, 1),
        "seqtext_valid_ppl": round(ours["perplexity"], 1),
        "goal_met": ours["perplexity"] <= peer_ppl,
    }, indent=2))


if __name__ == "__main__":
    main()
