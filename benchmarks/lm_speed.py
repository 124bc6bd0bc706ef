"""Language-model speed on this machine: training tokens per second and achieved GFLOP/s for
the shipped model's configuration, next to the machine's fp32 GEMM GFLOP/s, a reference loop in
the style of PyTorch's ``word_language_model`` example on the same model and data, and
generation characters per second for 1 and 32 streams next to the bound the weights set on
one-stream decoding (``torch.mv`` once through every weight matrix a decoding step uses).

    python benchmarks/lm_speed.py [--data-dir ../shared/data] [--steps 20] [--threads 1,2]
    python benchmarks/lm_speed.py --skip-training      # generation figures only

Ratios are measured in one run (the bound and the generation rates are taken in turn, median of
``--repeats``); absolute numbers move with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

import seqtext
from seqtext.lm.corpus import encode_documents
from seqtext.lm.model import RecurrentLM, batchify, detach_state
from seqtext.lm.training import LMDataOptions, LMTask


def gemm_gflops(n: int = 1024, repeats: int = 20) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def matmul_params(network: RecurrentLM) -> int:
    """Parameters that take part in a matrix multiply per token (embeddings are lookups)."""
    return sum(p.numel() for n, p in network.named_parameters() if p.dim() == 2 and not n.startswith("embedding"))


def time_steps(step, steps: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def seqtext_step_fn(lm, ids, batch_size, bptt):
    """One optimizer step of seqtext's own training task and trainer update."""
    network = RecurrentLM(lm.network.config)
    task = LMTask(network, lm.tokenizer, ids, ids[:1000], LMDataOptions(batch_size=batch_size, bptt=bptt), {}, 0)
    optimizer = torch.optim.AdamW(network.parameters(), lr=1e-3)
    batches = iter(())

    def step():
        nonlocal batches
        batch = next(batches, None)
        if batch is None:
            batches = task.batches(0, 0)
            batch = next(batches)
        network.train()
        total, count = task.loss(batch)  # batches are (inputs, targets, fresh rows)
        loss = total / max(count, 1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimizer.step()

    return step


class ExampleStyleRNN(nn.Module):
    """The model of PyTorch's word_language_model example: time-major LSTM, log-softmax output."""

    def __init__(self, config):
        super().__init__()
        self.drop = nn.Dropout(config.dropout)
        self.encoder = nn.Embedding(config.vocab_size, config.embedding_dim)
        self.rnn = nn.LSTM(config.embedding_dim, config.hidden_size, config.num_layers, dropout=config.dropout)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)

    def forward(self, x, hidden):
        output, hidden = self.rnn(self.drop(self.encoder(x)), hidden)
        decoded = self.decoder(self.drop(output)).view(-1, self.decoder.out_features)
        return F.log_softmax(decoded, dim=1), hidden


def example_step_fn(config, ids, batch_size, bptt):
    """The example's training step: time-major batches, NLL loss, clipping, plain SGD."""
    model = ExampleStyleRNN(config)
    data = torch.from_numpy(batchify(ids, batch_size).astype(np.int64)).t().contiguous()  # (N / B, B)
    criterion = nn.NLLLoss()
    position, hidden = 0, None

    def step():
        nonlocal position, hidden
        if position + bptt + 1 > data.size(0):
            position, hidden = 0, None
        x, y = data[position : position + bptt], data[position + 1 : position + 1 + bptt].reshape(-1)
        position += bptt
        hidden = detach_state(hidden)
        model.train()
        model.zero_grad()
        output, hidden = model(x, hidden)
        loss = criterion(output, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-20)

    return step


def decode_weights(network: RecurrentLM) -> list[torch.Tensor]:
    """Every weight matrix one decoding step multiplies by: W_ih and W_hh of each layer, the
    projection if any, the decoder. (The embedding is a row lookup.)"""
    rnn = network.rnn
    weights = []
    for n in range(network.config.num_layers):
        weights += [getattr(rnn, f"weight_ih_l{n}"), getattr(rnn, f"weight_hh_l{n}")]
    if network.projection is not None:
        weights.append(network.projection.weight)
    weights.append(network.decoder.weight)
    return [w.detach().contiguous() for w in weights]


@torch.inference_mode()
def mv_bound(network: RecurrentLM, passes: int = 2000) -> float:
    """Passes per second of ``torch.mv`` once through every decoding weight matrix: what the
    weights alone allow one stream, in tokens per second."""
    weights = decode_weights(network)
    vectors = [torch.randn(w.size(1)) for w in weights]
    pairs = list(zip(weights, vectors))
    for w, v in pairs * 20:
        torch.mv(w, v)
    start = time.perf_counter()
    for _ in range(passes):
        for w, v in pairs:
            torch.mv(w, v)
    return passes / (time.perf_counter() - start)


@torch.inference_mode()
def mm_bound(network: RecurrentLM, streams: int = 32, passes: int = 100) -> float:
    """Tokens per second that ``streams`` rows through every decoding weight matrix (one
    ``torch.mm`` each, on the transposed view) allow: the bound of a batch of streams."""
    pairs = [(w.t(), torch.randn(streams, w.size(1))) for w in decode_weights(network)]
    for wt, x in pairs * 3:
        torch.mm(x, wt)
    start = time.perf_counter()
    for _ in range(passes):
        for wt, x in pairs:
            torch.mm(x, wt)
    return streams * passes / (time.perf_counter() - start)


def stream_rate(lm, length: int, temperature: float) -> tuple[float, int]:
    """Characters per second of one stream as ``seqtext generate -n LENGTH`` makes it (through
    ``LanguageModel.stream``), timed from the first piece: loading and the seed excluded."""
    pieces = lm.stream("", max_length=length, temperature=temperature, seed=0)
    next(pieces)
    chars, start = 0, time.perf_counter()
    for piece in pieces:
        chars += len(piece)
    return chars / (time.perf_counter() - start), chars


def batch_rate(lm, streams: int, length: int, temperature: float) -> float:
    """Characters per second of ``streams`` samples generated as one batch (empty seed)."""
    start = time.perf_counter()
    samples = lm.generate("", max_length=length, num_samples=streams, temperature=temperature, seed=0)
    chars = sum(len(s["text"]) for s in samples)
    return chars / (time.perf_counter() - start)


def generation_figures(lm, threads: int, length: int, batch_length: int, repeats: int, temperature: float) -> dict:
    """The mv bound and the 1- and 32-stream rates, ``repeats`` times. Each rate is paired with
    its bound measured just before and just after it (their mean), so that a change in the
    machine's load moves both; ratios are the median of the paired ratios."""
    torch.set_num_threads(threads)
    bounds, ones, batches, mm_bounds = [], [], [], []
    stream_rate(lm, 200, temperature)  # warm-up
    for _ in range(repeats):
        before = mv_bound(lm.network, 1000)
        rate, chars = stream_rate(lm, length, temperature)
        bounds.append((before + mv_bound(lm.network, 1000)) / 2)
        ones.append(rate)
        before = mm_bound(lm.network, passes=50)
        batches.append(batch_rate(lm, 32, batch_length, temperature))
        mm_bounds.append((before + mm_bound(lm.network, passes=50)) / 2)
    median = statistics.median

    def paired(a, b):
        return median(x / y for x, y in zip(a, b))

    return {
        "threads": torch.get_num_threads(),
        "mv_bound_passes_per_s": round(median(bounds)),
        "generate_chars_per_s_1_stream": round(median(ones)),
        "chars_timed_1_stream": chars,
        "ratio_1_stream_to_mv_bound": round(paired(ones, bounds), 3),
        "generate_chars_per_s_32_streams": round(median(batches)),
        "ratio_32_streams_to_1_stream": round(paired(batches, ones), 2),
        "mm_bound_32_streams_tokens_per_s": round(median(mm_bounds)),
        "ratio_32_streams_to_mm_bound": round(paired(batches, mm_bounds), 3),
        "mm_bound_32_streams_over_mv_bound": round(paired(mm_bounds, bounds), 2),
        "samples": {"mv_bound": [round(b) for b in bounds], "1_stream": [round(r) for r in ones],
                    "mm_bound_32": [round(b) for b in mm_bounds], "32_streams": [round(r) for r in batches]},
    }


def corpus_ids(path: Path, tokenizer) -> np.ndarray:
    """The corpus as one ``<bos> ... <eos>`` document of ids, encoded as training encodes it."""
    with tempfile.TemporaryDirectory() as work:
        mapped = encode_documents([(path.read_text(encoding="utf-8"), True, True)], tokenizer, Path(work) / "ids.bin")
        ids = np.array(mapped)  # in memory: the file goes with the folder
        del mapped
    return ids


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="../shared/data", help="Folder with shakespeare/input.txt.")
    parser.add_argument("--model", default="shakespeare", help="Model whose configuration is measured.")
    parser.add_argument("--steps", type=int, default=20, help="Timed training steps per loop.")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--bptt", type=int, default=128)
    parser.add_argument("--length", type=int, default=3000, help="Characters of one-stream generation (-n).")
    parser.add_argument("--batch-length", type=int, default=1000, help="Characters per stream of the 32-stream batch.")
    parser.add_argument("--temperature", type=float, default=0.8, help="Sampling temperature (the CLI's default).")
    parser.add_argument("--repeats", type=int, default=3, help="Generation measurements per thread count (median).")
    parser.add_argument("--threads", default="1,2", help="Thread counts for the generation figures, comma-separated.")
    parser.add_argument("--skip-training", action="store_true", help="Only the generation figures.")
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
    return parser.parse_args()


def print_results(results: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(results))
        return
    for key, value in results.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for name, item in value.items():
                print(f"{name:>36}  {item}")
        else:
            print(f"{key:>36}  {value}")


def main() -> None:
    args = parse_args()
    corpus = Path(args.data_dir) / "shakespeare" / "input.txt"
    if not corpus.is_file():
        corpus = Path(__file__).resolve().parents[1] / "corpora" / "shakespeare.txt"
    lm = seqtext.load(args.model)
    ids = corpus_ids(corpus, lm.tokenizer)
    config = lm.network.config
    tokens = args.batch_size * args.bptt
    flops_per_token = 6 * matmul_params(lm.network)  # forward 2 + backward 4 per weight

    results = {
        "threads": torch.get_num_threads(),
        "model": f"{config.cell} {config.num_layers}x{config.hidden_size}, embedding {config.embedding_dim}, vocab {config.vocab_size}",
    }
    if not args.skip_training:
        torch.manual_seed(0)
        ours = time_steps(seqtext_step_fn(lm, ids, args.batch_size, args.bptt), args.steps)
        torch.manual_seed(0)
        reference = time_steps(example_step_fn(config, ids, args.batch_size, args.bptt), args.steps)
        results.update({
            "gemm_gflops": round(gemm_gflops(), 1),
            "train_tokens_per_s": round(tokens / ours),
            "train_gflops": round(tokens / ours * flops_per_token / 1e9, 1),
            "example_tokens_per_s": round(tokens / reference),
            "speedup_vs_example": round(reference / ours, 3),
        })
    default_threads = torch.get_num_threads()
    for threads in [int(t) for t in args.threads.split(",") if t]:
        results[f"generation_{threads}_threads"] = generation_figures(
            lm, threads, args.length, args.batch_length, args.repeats, args.temperature
        )
    torch.set_num_threads(default_threads)
    print_results(results, args.json)


if __name__ == "__main__":
    main()
