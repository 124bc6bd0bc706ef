"""The language model sized to corpus and budget (#23 item 2): the rule of seqtext/lm/sizing.py,
and `train lm` following it for the size options the user leaves out, and only for those."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from seqtext.cli.main import main
from seqtext.configs import LMConfig
from seqtext.lm import sizing
from seqtext.lm.sizing import LADDER, TOKENS_PER_PARAMETER, recurrent_parameters

CHAR = LMConfig(vocab_size=80, cell="lstm")


def rate_by_parameters(config: LMConfig, rows: int, bptt: int = 64, sample=None, device=None) -> float:
    """A machine that reads 1e10 / parameters tokens per second: larger rungs read less."""
    rung = sizing.Rung(config.num_layers, config.hidden_size, config.embedding_dim)
    return 1e10 / recurrent_parameters(rung)


def test_a_longer_budget_buys_a_larger_network_and_a_small_one_the_smallest():
    rungs = [sizing.choose("char", CHAR, 10**9, 10**9, 64, 128, budget_seconds=seconds, rate=rate_by_parameters).rung
             for seconds in (1e-3, 0.1, 10, 1000)]
    sizes = [recurrent_parameters(r) for r in rungs]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert rungs[0] == LADDER["char"][0]


def test_the_chosen_rung_is_the_largest_that_reads_enough_tokens_per_parameter():
    choice = sizing.choose("char", CHAR, 10**9, 10**9, 64, 128, budget_seconds=2000, rate=rate_by_parameters)
    index = LADDER["char"].index(choice.rung)
    assert 0 < index < len(LADDER["char"]) - 1
    assert choice.tokens >= TOKENS_PER_PARAMETER['char'] * recurrent_parameters(choice.rung)
    bigger = LADDER["char"][index + 1]
    assert 2000 * rate_by_parameters(sizing._sized(CHAR, bigger), 64) < TOKENS_PER_PARAMETER['char'] * recurrent_parameters(bigger)


def test_a_small_corpus_caps_the_network_however_long_the_budget():
    big = sizing.choose("char", CHAR, 10**9, 10**9, 64, 128, budget_tokens=1e9)
    small = sizing.choose("char", CHAR, 50_000, 50_000, 64, 128, budget_tokens=1e9)
    assert recurrent_parameters(small.rung) <= sizing.PARAMETERS_PER_CHARACTER * 50_000 < recurrent_parameters(big.rung)
    assert small.passes > big.passes and small.dropout > big.dropout  # read many times: more dropout


def test_a_time_and_a_step_limit_size_by_whichever_ends_first():
    by_time = sizing.choose("char", CHAR, 10**9, 10**9, 64, 128, budget_seconds=2000, rate=rate_by_parameters)
    both = sizing.choose("char", CHAR, 10**9, 10**9, 64, 128, budget_seconds=2000, budget_tokens=1e5, rate=rate_by_parameters)
    assert both.tokens == 1e5 < by_time.tokens and both.rung == LADDER["char"][0] != by_time.rung


def test_dropout_grows_with_the_passes_over_the_corpus():
    for unit in LADDER:
        values = [sizing.dropout_for(unit, p) for p in (0.5, 3, 20, 100, 10_000)]
        assert values == sorted(values) and values[0] < values[-1]


def test_the_probe_measures_a_real_rate_and_puts_the_random_state_back():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    rate = sizing.probe_rate(sizing._sized(CHAR, LADDER["char"][0]), rows=4, bptt=32, steps=1)
    assert torch.equal(torch.rand(3), expected)
    assert rate > 100  # tokens per second of a 1 x 128 LSTM on any machine this runs on


def train(tmp_path, corpus: str, *flags: str):
    path = tmp_path / "corpus.txt"
    path.write_text(corpus, encoding="utf-8")
    result = CliRunner().invoke(main, ["train", "lm", str(path), "-o", str(tmp_path / "m"), "--overwrite", *flags])
    assert result.exit_code == 0, result.output
    return result.output, json.loads((tmp_path / "m" / "config.json").read_text())["model"]


@pytest.mark.slow
def test_train_lm_sizes_the_network_to_the_budget_and_says_so(tmp_path, shakespeare_text):
    output, model = train(tmp_path, shakespeare_text[:60_000], "--max-time", "3s", "--tokenizer", "char")
    line = next(line for line in output.splitlines() if line.startswith("network sized to the budget"))
    assert f"{model['num_layers']} x {model['hidden_size']} (embedding {model['embedding_dim']})" in line
    # 60,000 characters cap the network well below today's fixed 2 x 512
    assert (model["num_layers"], model["hidden_size"]) != (2, 512)


def test_size_options_the_user_gives_win(tmp_path, shakespeare_text):
    output, model = train(tmp_path, shakespeare_text[:20_000], "--max-steps", "2", "--tokenizer", "char", "--hidden", "48",
                          "--layers", "1", "--embedding-dim", "16", "--dropout", "0.05")
    assert "network sized" not in output
    assert (model["num_layers"], model["hidden_size"], model["embedding_dim"], model["dropout"]) == (1, 48, 16, 0.05)
    assert json.loads((tmp_path / "m" / "run.json").read_text())["train"]["schedule"] == "cosine"  # a value --resume compares


def test_a_step_budget_sizes_without_probing(tmp_path, shakespeare_text, monkeypatch):
    monkeypatch.setattr(sizing, "probe_rate", lambda *a: pytest.fail("probed with no time budget"))
    output, model = train(tmp_path, shakespeare_text[:20_000], "--max-steps", "2", "--tokenizer", "char", "--dropout", "0.05")
    line = next(line for line in output.splitlines() if line.startswith("network sized to the budget"))
    assert "dropout 0.05 " in line and "probed" not in line  # the dropout the run takes; nothing probed
    assert model["dropout"] == 0.05 and (model["num_layers"], model["hidden_size"]) == (1, 128)


@pytest.mark.slow
def test_a_time_budget_bounds_the_validation_unless_max_val_tokens_is_given(tmp_path, shakespeare_text):
    """One validation during training takes about 3 % of the budget: a 3-second run on 1 MB of
    characters scores thousands of held-out tokens, not the 110,000 there are."""
    output, _ = train(tmp_path, shakespeare_text, "--max-time", "3s", "--tokenizer", "char", "--layers", "1")
    run = json.loads((tmp_path / "m" / "run.json").read_text())
    assert 5_000 <= run["data"]["max_val_tokens"] < 50_000
    assert f"validation during training scores the first {run['data']['max_val_tokens']:,} of the" in output
    output, _ = train(tmp_path, shakespeare_text, "--max-time", "3s", "--tokenizer", "char", "--layers", "1",
                      "--max-val-tokens", "60000")
    assert json.loads((tmp_path / "m" / "run.json").read_text())["data"]["max_val_tokens"] == 60_000
    assert "validation during training scores the first" not in output


def test_a_corpus_read_many_times_gets_a_patience():
    assert sizing.choose("char", CHAR, 10_000, 10_000, 64, 128, budget_tokens=10_000 * 40).patience == sizing.EARLY_STOP_PATIENCE
    assert sizing.choose("char", CHAR, 10_000, 10_000, 64, 128, budget_tokens=10_000 * 4).patience is None


@pytest.mark.slow
def test_a_corpus_read_many_times_stops_early_unless_the_user_says_otherwise(tmp_path, shakespeare_text):
    output, _ = train(tmp_path, shakespeare_text[:3_000], "--epochs", "60", "--tokenizer", "char")
    assert "60 passes over the corpus; stops after 5 passes without improvement, halving the learning rate at each)" in output
    run = json.loads((tmp_path / "m" / "run.json").read_text())
    assert (run["train"]["patience"], run["train"]["schedule"]) == (sizing.EARLY_STOP_PATIENCE, "plateau")
    output, _ = train(tmp_path, shakespeare_text[:3_000], "--epochs", "60", "--tokenizer", "char", "--schedule", "cosine")
    assert "; stops after 5 passes without improvement)" in output
    for given in (["--patience", "20"], ["--eval-every", "3"]):
        output, _ = train(tmp_path, shakespeare_text[:3_000], "--epochs", "60", "--tokenizer", "char", *given)
        assert "without improvement" not in output
        assert json.loads((tmp_path / "m" / "run.json").read_text())["train"]["patience"] == (20 if given[0] == "--patience" else None)
