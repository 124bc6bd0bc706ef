"""Training in several processes with ``torch.distributed``: one model, gradients averaged by
DistributedDataParallel, each rank reading its own share of every global batch.

A process is a worker of a distributed run when the launcher (``seqtext train ... --nproc N``,
or ``torchrun``) has set ``WORLD_SIZE``/``RANK``; ``setup`` then joins the process group (Gloo
on CPU, NCCL on CUDA). Rank 0 alone writes files, logs and the progress bar.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from datetime import timedelta

import torch
import torch.distributed as dist

from seqtext.errors import ConfigError


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def launched() -> bool:
    """Whether a launcher started this process as one worker of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: torch.device) -> None:
    """Join the process group the launcher described, once per process."""
    if not launched() or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend, timeout=timedelta(minutes=30))


def local_device(device: torch.device) -> torch.device:
    """Each local rank gets its own GPU; CPUs are shared."""
    if device.type == "cuda" and launched():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def all_sum(value: float, device: torch.device) -> float:
    """The sum of ``value`` over all ranks (the value itself in one process)."""
    if world_size() == 1:
        return value
    tensor = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return float(tensor.item())


def from_main(value: float, device: torch.device) -> float:
    """Rank 0's ``value`` on every rank, so that decisions taken from it (best model, early
    stopping) are the same everywhere."""
    if world_size() == 1:
        return value
    tensor = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.broadcast(tensor, src=0)
    return float(tensor.item())


def shard(items):
    """This rank's share of one global batch: every ``world_size``-th item from its rank on."""
    size = world_size()
    if size == 1:
        return items
    return items[rank() :: size]


def check_divisible(batch_size: int, what: str) -> None:
    size = world_size()
    if batch_size % size:
        raise ConfigError(f"{what} {batch_size} does not divide among {size} processes; use a multiple of {size}")


def gather_rows(tensor: torch.Tensor, dim: int) -> torch.Tensor:
    """Every rank's ``tensor`` concatenated along ``dim`` in rank order (all ranks call this)."""
    size = world_size()
    if size == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(size)]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts, dim=dim)


def launch(nproc: int, argv: list[str]) -> int:
    """Run ``python -m seqtext.cli.main ARGV`` as ``nproc`` local workers through torch's elastic
    launcher (what ``torchrun --standalone`` does); return the exit status."""
    # Deferred: only multi-process launches need it, and torch builds without distributed support cannot import it.
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=f"seqtext-{uuid.uuid4().hex[:8]}",
        rdzv_backend="c10d",
        rdzv_endpoint="127.0.0.1:0",
        max_restarts=0,
        monitor_interval=0.5,
    )
    # The workers report their own errors; the launcher's log lines about them would only repeat them.
    elastic_log = logging.getLogger("torch.distributed.elastic")
    level = elastic_log.level
    elastic_log.setLevel(logging.CRITICAL)
    try:
        elastic_launch(config, entrypoint=sys.executable)("-m", "seqtext.cli.main", *argv)
    except ChildFailedError:
        return 1
    finally:
        elastic_log.setLevel(level)
    return 0
