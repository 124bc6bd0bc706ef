"""Where the networks run: picking a device by name, and the mixed precision it can use.

``auto`` takes CUDA, then Apple's MPS, then the CPU. Mixed precision is used only where the
hardware has it: bf16 autocast on CUDA devices that support bf16, fp16 with a gradient scaler
on older ones, and never on a CPU (bf16 matrix multiplies run about 150x slower than fp32 on
CPUs without bf16 units, such as this project's).
"""

from __future__ import annotations

import contextlib
import re

import torch

from seqtext.errors import ConfigError

DEVICE_NAMES = "auto, cpu, cuda, cuda:N or mps"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """The torch device for ``name``; a ConfigError naming it if it is not on this machine."""
    if isinstance(name, torch.device):
        name = str(name)
    name = "auto" if name is None else name.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name in ("cpu", "cpu:0"):  # str(torch.device("cpu:0")) is "cpu:0"
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise ConfigError("device mps: Apple's MPS backend is not available on this machine")
        return torch.device("mps")
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if not match:
        raise ConfigError(f"device {name!r}: choose {DEVICE_NAMES}")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise ConfigError(f"device {name}: no CUDA device is available here (torch {torch.__version__}"
                          f"{', a CPU-only build' if torch.version.cuda is None else ''})")
    index = int(match.group(1) or 0)
    if index >= count:
        raise ConfigError(f"device {name}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    return torch.device("cuda", index)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast type for training and inference on ``device``, or None for full fp32."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device):
    """Mixed precision where the device has it; a no-op elsewhere."""
    dtype = autocast_dtype(device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device: torch.device):
    """A gradient scaler for fp16 autocast (bf16 and fp32 need none)."""
    if autocast_dtype(device) is torch.float16:
        return torch.amp.GradScaler(device.type)
    return None
