"""The fast decoding path (generation.StepKernel, the incremental StreamDecoder) computes what
the network and the full decode compute: exactness checks, no timing."""

import pytest
import torch

from seqtext.errors import SeqtextError
from seqtext.lm import generation
from seqtext.lm.model import LMConfig, RecurrentLM
from seqtext.text.tokenizers import BOS, EOS, PAD, UNK, CharTokenizer, WordTokenizer


def tiny_network(cell: str, layers: int = 2, tie: bool = False, hidden: int = 24, seed: int = 0) -> RecurrentLM:
    torch.manual_seed(seed)
    config = LMConfig(vocab_size=11, embedding_dim=6, hidden_size=hidden, num_layers=layers, cell=cell, dropout=0.1, tie_weights=tie)
    network = RecurrentLM(config).eval()
    with torch.no_grad():  # biases away from 0, so that a bias used twice or not at all shows
        for name, p in network.named_parameters():
            if "bias" in name:
                p.uniform_(-1, 1)
    return network


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("table_bytes", [generation.TABLE_BYTES, 0])  # layer 0 by table or by [x; h]
@pytest.mark.parametrize("streams", [1, 3])
@pytest.mark.parametrize("layers,tie", [(1, False), (2, False), (3, True)])  # tie with H != E: a projection
def test_step_kernel_matches_full_forward(cell, table_bytes, streams, layers, tie):
    network = tiny_network(cell, layers, tie)
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(3, 11, (streams, 9), generator=generator)
    with torch.inference_mode():
        full, full_state = network(ids)  # (N, T, V)
        prefix_logits, state = network(ids[:, :2])
        kernel = generation.StepKernel(network, state, streams, table_bytes=table_bytes)
        for t in range(2, ids.size(1)):
            logits = kernel.step(ids[:, t])
            torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=1e-5)
        for mine, theirs in zip(*[s if isinstance(s, tuple) else (s,) for s in (kernel.state(), full_state)]):
            torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_step_kernel_matches_general_step(cell):
    """The kernel and ``Stepper.step`` (torch's cell functions) agree, streams started from one
    state expanded (as sampling does)."""
    network = tiny_network(cell, 2)
    with torch.inference_mode():
        stepper = generation.Stepper(network)
        logits, state = stepper.prefix([BOS, 4, 5, 6])
        kernel = stepper.kernel(state, 4)
        torch.testing.assert_close(kernel.logits.copy_(logits), logits.expand(4, -1))
        general = generation._expand(state, 4)
        tokens = torch.tensor([3, 4, 5, 6])
        for _ in range(5):
            expected, general = stepper.step(tokens, general)
            torch.testing.assert_close(kernel.step(tokens), expected, atol=1e-5, rtol=1e-5)
            tokens = (tokens + 1) % 8 + 3


def test_kernel_declines_other_dtypes():
    network = tiny_network("lstm").double()
    with torch.inference_mode():
        stepper = generation.Stepper(network)
        _, state = stepper.prefix([BOS, 4])
        assert stepper.kernel(state, 1) is None


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("streams", [1, 3])
def test_sample_matches_general_path(cell, streams, monkeypatch):
    """Sampling through the kernel picks what the general path picks, for greedy, temperature,
    top-k and top-p, with <unk> banned."""
    network = tiny_network(cell, 2, hidden=16)
    options = [(0.0, None, None), (1.0, None, None), (0.7, 3, None), (1.3, None, 0.8)]
    runs = []
    for use_kernel in (True, False):
        if not use_kernel:
            monkeypatch.setattr(generation.Stepper, "kernel", lambda self, state, streams: None)
        runs.append([
            generation.collect(
                generation.sample(network, [BOS, 4, 5], 40, t, k, p, streams, torch.Generator().manual_seed(3), (UNK,)), streams
            )
            for t, k, p in options
        ])
    assert runs[0] == runs[1]
    assert all(token not in (PAD, UNK, BOS) for run in runs[0] for seq in run for token in seq)


def test_one_stream_stops_at_eos():
    network = tiny_network("lstm")
    with torch.no_grad():
        network.decoder.bias.fill_(-1e4)
        network.decoder.bias[EOS] = 1e4
    steps = list(generation.sample(network, [BOS], 10, 1.0, None, None, 1, torch.Generator().manual_seed(0)))
    assert [int(t) for t in steps] == [EOS]


def full_decode(tokenizer, ids, stop):
    """What StreamDecoder gave before it decoded token by token: the whole text each time."""
    text = tokenizer.joiner + tokenizer.decode(ids)
    cut = min((text.find(s) for s in stop if s in text), default=-1)
    return text[:cut] if cut != -1 else text


@pytest.mark.parametrize("kind", ["char", "word"])
@pytest.mark.parametrize("stop", [(), ("\n",), ("ab", "b a"), ("c c",)])
def test_incremental_stream_decoder_matches_full_decode(kind, stop):
    tokenizer = CharTokenizer(["<pad>", "<unk>", "<bos>", "<eos>", "a", "b", "c", "\n"]) if kind == "char" else (
        WordTokenizer(["<pad>", "<unk>", "<bos>", "<eos>", "a", "b", "c", "\n"])
    )
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        ids = torch.randint(0, 8, (12,), generator=generator).tolist()
        ids = [t for t in ids if t != EOS]
        decoder = generation.StreamDecoder(tokenizer, stop)
        pieces = []
        for token in ids:
            pieces.append(decoder.add(token))
            if decoder.stopped:
                break
        pieces.append(decoder.rest())
        assert decoder.pieces is not None  # the incremental path, not whole decoding
        assert decoder.text == "".join(pieces) == full_decode(tokenizer, decoder.ids, stop)


@pytest.mark.parametrize("options,named", [
    ({"top_p": 1.5}, "top_p must be in (0, 1]"),
    ({"top_k": 0}, "top_k must be at least 1"),
    ({"max_length": -1}, "max_length must be 0 or more"),
    ({"temperature": float("nan")}, "temperature and top_p must be finite"),
])
def test_refused_options_name_the_python_argument(options, named):
    """The library names its own arguments; the command line maps them to its flags."""
    arguments = {"temperature": 1.0, "top_k": None, "top_p": None, "max_length": 10} | options
    with pytest.raises(SeqtextError) as refused:
        generation.check_options(**arguments)
    assert str(refused.value).startswith(named)
