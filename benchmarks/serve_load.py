"""Load on `seqtext serve`: latency percentiles, throughput and error counts per endpoint.

    python benchmarks/serve_load.py [--requests 2000] [--clients 32] [--max-length 50]

Starts `seqtext serve --model ner --model sentiment --model shakespeare` in a subprocess on a
free localhost port (with its default limits, so a 503 here means the default queue is too
small for this many clients), then sends the requests from that many concurrent clients
(httpx, asyncio; one keep-alive connection each), cycling through /tag, /classify and
/generate (non-streaming, --max-length tokens), each with one sentence. Prints a table of
p50/p99 latency, requests per second and status counts per endpoint; exits 1 on any 5xx.
The clients share the machine with the server, so on a small machine they take some of its CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter

import httpx

SENTENCES = [
    "Angela Merkel visited Paris on Tuesday with the head of the United Nations.",
    "a gorgeous, witty, seductive movie.",
    "The European Commission said on Thursday it disagreed with German advice.",
    "the plot is a dull, tedious mess that never finds its footing.",
    "Peter Blackburn reported from Brussels for Reuters.",
    "an utterly charming and hilarious film that reminds you why we go to the movies.",
    "Japan began the defence of their Asian Cup title with a lucky 2-1 win against Syria.",
    "too long, too slow and far too pleased with itself.",
]
SEEDS = ["ROMEO:", "JULIET:", "First Citizen:", "KING RICHARD III:"]
ENDPOINTS = ("tag", "classify", "generate")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request_for(index: int, max_length: int) -> tuple[str, dict]:
    endpoint = ENDPOINTS[index % len(ENDPOINTS)]
    if endpoint == "generate":
        return endpoint, {"text": SEEDS[index % len(SEEDS)], "max_length": max_length, "seed": index}
    return endpoint, {"text": SENTENCES[index % len(SENTENCES)]}


async def load(url: str, requests: int, clients: int, max_length: int) -> tuple[list[tuple[str, int, float]], float]:
    """(endpoint, status, seconds) of every request, and the wall time of the whole run."""
    results: list[tuple[str, int, float]] = []
    next_index = iter(range(requests))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http: httpx.AsyncClient) -> None:
        for index in next_index:
            endpoint, body = request_for(index, max_length)
            start = time.perf_counter()
            try:
                status = (await http.post(f"{url}/{endpoint}", json=body)).status_code
            except httpx.TransportError:
                status = 0  # the connection failed: counted apart from HTTP statuses
            results.append((endpoint, status, time.perf_counter() - start))

    async with httpx.AsyncClient(limits=limits, timeout=120) as http:
        for index in range(2 * len(ENDPOINTS)):  # warm-up, not counted
            endpoint, body = request_for(index, max_length)
            (await http.post(f"{url}/{endpoint}", json=body)).raise_for_status()
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        return results, time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def report(results: list[tuple[str, int, float]], wall: float) -> dict:
    rows = {}
    for endpoint in (*ENDPOINTS, "all"):
        mine = [r for r in results if endpoint in ("all", r[0])]
        ok = [seconds * 1000 for _, status, seconds in mine if status == 200]
        statuses = Counter(status for _, status, _ in mine)
        rows[endpoint] = {
            "requests": len(mine), "ok": len(ok),
            "p50_ms": round(percentile(ok, 50), 1) if ok else None,
            "p99_ms": round(percentile(ok, 99), 1) if ok else None,
            "requests_per_s": round(len(mine) / wall, 1),
            "5xx": sum(n for s, n in statuses.items() if s >= 500), "503": statuses.get(503, 0),
            "other": {str(s): n for s, n in statuses.items() if s != 200 and s < 500},
        }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=50, help="Tokens per /generate request.")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="Also write the results to this file.")
    args = parser.parse_args()

    port = free_port()
    command = [sys.executable, "-m", "seqtext.cli.main", "serve", "--port", str(port), "--device", args.device,
               "--log-level", "warning", "--model", "ner", "--model", "sentiment", "--model", "shakespeare"]
    server = subprocess.Popen(command, env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                sys.exit(f"seqtext serve exited with status {server.returncode}")
            try:
                health = httpx.get(f"{url}/health", timeout=1)
                if health.status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    sys.exit("seqtext serve did not answer within 120 s")
                time.sleep(0.2)
        limits = httpx.get(f"{url}/models").json()["limits"]
        results, wall = asyncio.run(load(url, args.requests, args.clients, args.max_length))
    finally:
        server.terminate()
        server.wait(30)

    rows = report(results, wall)
    threads = os.environ.get("OMP_NUM_THREADS", "default")
    print(f"{args.requests} requests from {args.clients} clients in {wall:.1f} s; /generate max_length {args.max_length}; "
          f"server limits {limits}; OMP_NUM_THREADS={threads}; {os.cpu_count()} CPUs")
    print("| endpoint | requests | p50 ms | p99 ms | requests/s | 5xx | 503 | other non-200 |")
    print("|---|---|---|---|---|---|---|---|")
    for endpoint, row in rows.items():
        print(f"| {endpoint} | {row['requests']} | {row['p50_ms']} | {row['p99_ms']} | {row['requests_per_s']} | "
              f"{row['5xx']} | {row['503']} | {row['other'] or 0} |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"wall_s": wall, "args": vars(args), "limits": limits, "endpoints": rows}, out, indent=2)
    failed = sum(status == 0 for _, status, _ in results)
    if rows["all"]["5xx"] or failed:
        sys.exit(f"{rows['all']['5xx']} responses were 5xx and {failed} requests failed to connect")


if __name__ == "__main__":
    main()
