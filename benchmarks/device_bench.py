"""The three trainers and generation on one device, for the GPU path (bf16 autocast on CUDA, fp16
with a gradient scaler where bf16 is missing) next to the same run on the CPU.

    python benchmarks/device_bench.py --device cuda [--data-dir ../shared/data] [--steps 200]
    python benchmarks/device_bench.py --device cpu --steps 20      # the same figures on the CPU

For each kind it trains ``--steps`` optimizer steps from scratch with the library's defaults
(the shakespeare character LM, the CoNLL++ tagger, the SST-2 classifier) and reports
steps/s and tokens/s; then one-stream and 32-stream generation with the shipped `shakespeare`
model; then portability: the LM trained on the device, loaded on the CPU, must give the same
validation loss as on the device (to the tolerance of the device's autocast type).
Runs go under ``--work-dir`` (outside the repository).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import seqtext
from seqtext.api import evaluate_files
from seqtext.classifier.training import train_classifier
from seqtext.configs import (
    ClassifierDataOptions,
    LMDataOptions,
    TaggerDataOptions,
    TrainConfig,
)
from seqtext.core.devices import autocast_dtype, resolve_device
from seqtext.lm.training import train_language_model
from seqtext.tagger.training import train_tagger

ROOT = Path(__file__).resolve().parents[1]


def timed(function):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - started


def generation_rate(lm, streams: int, length: int) -> float:
    lm.generate("", max_length=20, num_samples=streams, seed=0)  # warm-up
    samples, seconds = timed(lambda: lm.generate("", max_length=length, num_samples=streams, seed=0, temperature=0.8))
    return sum(s.tokens for s in samples) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--work-dir", default="/tmp/seqtext-device")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    data, work = Path(args.data_dir), Path(args.work_dir)
    device = resolve_device(args.device)
    train = TrainConfig(max_steps=args.steps, warmup_steps=min(100, args.steps // 4), eval_every=args.steps,
                        device=str(device), progress=False)
    report = {"device": str(device), "name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "autocast": str(autocast_dtype(device)), "steps": args.steps}

    lm_data = LMDataOptions()
    lm, seconds = timed(lambda: train_language_model([str(data / "shakespeare" / "input.txt")], work / "lm", data=lm_data,
                                                     train=train, overwrite=True))
    tokens = args.steps * 64 * 128 * (1 + lm_data.fresh_share)  # the char defaults: batch 64 x 128, plus fresh rows
    report["lm"] = {"seconds": round(seconds, 1), "tokens_per_s": round(tokens / seconds), "val_loss": round(lm.metrics["loss"], 4)}

    tagger, seconds = timed(lambda: train_tagger(str(data / "conllpp" / "train.txt"), str(data / "conllpp" / "dev.txt"),
                                                 work / "tagger", data=TaggerDataOptions(), train=train, overwrite=True))
    report["tagger"] = {"seconds": round(seconds, 1), "steps_per_s": round(args.steps / seconds, 2),
                        "dev_f1": round(tagger.metrics.get("f1", float("nan")), 4)}

    classifier, seconds = timed(lambda: train_classifier(str(data / "sst2" / "sentences.train"), str(data / "sst2" / "sentences.dev"),
                                                         work / "classifier", data=ClassifierDataOptions(), train=train,
                                                         overwrite=True))
    report["classifier"] = {"seconds": round(seconds, 1), "steps_per_s": round(args.steps / seconds, 2),
                            "dev_accuracy": round(classifier.metrics.get("accuracy", float("nan")), 4)}

    shipped = seqtext.load("shakespeare", device=str(device))
    one = generation_rate(shipped, 1, 1000)
    many = generation_rate(shipped, 32, 500)
    report["generation"] = {"one_stream_chars_per_s": round(one), "32_streams_chars_per_s": round(many),
                            "ratio_32_to_1": round(many / one, 1)}

    valid = work / "valid.txt"
    valid.write_text((data / "shakespeare" / "input.txt").read_text(encoding="utf-8")[-20_000:], encoding="utf-8")
    on_device = evaluate_files(seqtext.load(work / "lm", device=str(device)), [str(valid)])["cross_entropy"]
    on_cpu = evaluate_files(seqtext.load(work / "lm", device="cpu"), [str(valid)])["cross_entropy"]
    report["portability"] = {"loss_on_device": round(on_device, 5), "loss_on_cpu": round(on_cpu, 5),
                             "difference": abs(on_device - on_cpu)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
