"""Devices: names resolve to what this machine has, absent ones are one-line errors, and models
move between devices. (This machine has no GPU: the CUDA path runs in benchmarks where one is lent.)"""

import re

import pytest
import torch
from click.testing import CliRunner

import seqtext
from seqtext.cli.main import main
from seqtext.core.devices import autocast_dtype, grad_scaler, resolve_device
from seqtext.errors import ConfigError


def test_auto_picks_cuda_then_mps_then_cpu():
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == expected
    assert resolve_device("CPU") == torch.device("cpu")


@pytest.mark.parametrize("name", ["tpu", "cuda:x", "gpu0", "cuda:-1"])
def test_unknown_device_names_are_refused(name):
    with pytest.raises(ConfigError, match="choose auto, cpu, cuda, cuda:N or mps"):
        resolve_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_absent_cuda_is_a_one_line_error(tiny_lm_dir):
    with pytest.raises(ConfigError, match="no CUDA device is available"):
        resolve_device("cuda:1")
    result = CliRunner().invoke(main, ["generate", "x", "-m", str(tiny_lm_dir), "-n", "3", "--device", "cuda"])
    assert result.exit_code == 1
    # the library names the argument (device); the command line may name its flag (--device)
    assert re.match(r"Error: (--)?device cuda: no CUDA device", result.stderr) and len(result.stderr.splitlines()) == 1


def test_no_mixed_precision_on_the_cpu():
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu) is None and grad_scaler(cpu) is None


def test_model_moves_and_keeps_its_outputs(tiny_lm_dir):
    lm = seqtext.load(tiny_lm_dir, device="cpu")
    assert lm.device == torch.device("cpu")
    before = lm.generate("ROMEO:", max_length=20, temperature=0.0)[0]["text"]
    assert lm.to("auto") is lm
    assert lm.generate("ROMEO:", max_length=20, temperature=0.0)[0]["text"] == before


def test_an_empty_device_name_is_refused_and_cpu_0_is_the_cpu():
    import torch

    from seqtext.core.devices import resolve_device
    from seqtext.errors import ConfigError

    with pytest.raises(ConfigError, match="^device ''"):
        resolve_device("")
    assert resolve_device(torch.device("cpu:0")) == torch.device("cpu")
