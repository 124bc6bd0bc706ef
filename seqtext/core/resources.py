"""Refusing work that could never fit in memory, before any of it is allocated.

A request such as a hidden size of 1,000,000 or ten million samples would otherwise fail deep
inside torch with "can't allocate 16000000000000 bytes", or swap the machine to a halt first.
"""

from __future__ import annotations

import os

import torch

from seqtext.errors import SeqtextError


def total_memory() -> int:
    """Physical memory of this machine in bytes (0 where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


GATES = {"lstm": 4, "gru": 3, "rnn": 1}  # gate blocks per recurrent cell


def recurrent_floats(inputs: int, hidden: int, layers: int, cell: str, directions: int = 1) -> int:
    """Floats per time step (of each sequence) that a recurrent stack's forward pass over packed
    or whole sequences holds at its peak, measured on the CPU (tests/core/test_memory.py): its
    input copied once, and per layer its output (``directions * hidden``) and the input
    projection of the whole sequence for one direction at a time (``G * hidden``)."""
    return inputs + layers * (GATES[cell] * hidden + directions * hidden)


def check_fits(needed: int, what: str) -> None:
    """Raise a SeqtextError when ``needed`` bytes exceed this machine's memory."""
    available = total_memory()
    if available and needed > available:
        raise SeqtextError(f"{what} would need about {gib(needed)} of memory; this machine has {gib(available)}")


def training_floats(inputs: int, hidden: int, layers: int, cell: str, directions: int = 1, packed: bool = False) -> int:
    """Floats per time step (of each sequence) that a recurrent stack's training step holds at its
    peak, measured on the CPU (tests/core/test_memory.py): the activations its forward pass keeps
    for backward and their gradients, about twice ``recurrent_floats``, and the top layer's
    output gradient and gates again (``(G + 4) * hidden`` per direction). A GRU over packed
    sequences keeps about ``7 * hidden`` more per layer and direction (its per-step kernel)."""
    floats = 2 * recurrent_floats(inputs, hidden, layers, cell, directions) + (GATES[cell] + 4) * hidden * directions
    if packed and cell == "gru":
        floats += 7 * hidden * directions * layers
    return floats


LOGIT_COPIES = 3.25  # (tokens, V) float32 tensors of a softmax cross-entropy's step: logits, log-softmax, gradients


def check_network_fits(build, what: str, copies: int = 4, activations: float = 0, batch: str = "") -> int:
    """Count the parameters of the network ``build()`` makes without allocating them (on the
    meta device) and refuse it if ``copies`` float32 copies (weights, gradients, two AdamW
    moments) and ``activations`` floats (what one training step on the largest batch keeps for
    backward, and their gradients; ``batch`` says which batch) would not fit. Returns the
    parameter count."""
    with torch.device("meta"):
        network = build()
    count = sum(p.numel() for p in network.parameters())
    needed = int(4 * (count * copies + activations))
    if activations:
        check_fits(needed, f"training {batch} with a network of {count:,} parameters ({what})")
    check_fits(needed, f"a network of {count:,} parameters ({what})")
    return count
