"""What a run or a load that fails on the file system leaves behind and says (#24 items 2, 3, 5,
6, 7): a write that fails (a full disk, a file size limit) is one error naming the file, with no
temporary file left and the last good checkpoint kept; a resumed run that its limits end before
any model was saved says so; a name too long for the file system, an export target that takes
no files and JSON nested too deep are errors, not tracebacks."""

import contextlib
import errno
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import seqtext
from seqtext.cli.main import main
from seqtext.configs import TrainConfig
from seqtext.core import modeldir
from seqtext.core.batching import Task
from seqtext.core.runs import load_run
from seqtext.core.trainer import CHECKPOINT_FILE, Trainer
from seqtext.errors import ModelError, SeqtextError, TrainingError, TrainingInterrupted
from seqtext.export.writer import export as export_model
from seqtext.lm.corpus import encode_documents
from seqtext.text.tokenizers import CharTokenizer


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in Path(directory).rglob("*.tmp"))


@contextlib.contextmanager
def file_size_limit(size: int):
    """The process's file size limit (``ulimit -f``) inside the block: Python ignores SIGXFSZ, so
    a write past it fails with EFBIG, as on a full disk. Only inside the block: pytest's own
    report of the test goes to a file that may be larger (CI's log)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


class ToyTask(Task):
    """y = 3x with one linear unit, 4 steps an epoch; ``save`` writes a model file."""

    def __init__(self):
        super().__init__(torch.nn.Linear(1, 1))
        self.x = torch.linspace(-1, 1, 32).unsqueeze(1)

    def steps_per_epoch(self) -> int:
        return 4

    def batches(self, epoch: int, start: int):
        for index in range(start, 4):
            yield self.x[index::4]

    def loss(self, batch):
        return ((self.network(batch) - 3 * batch) ** 2).sum(), len(batch)

    def evaluate(self) -> dict:
        with torch.no_grad():
            return {"loss": float(((self.network(self.x) - 3 * self.x) ** 2).mean())}

    def save(self, directory, metrics: dict) -> None:
        modeldir.write_json(Path(directory) / modeldir.METRICS_FILE, metrics)


def toy_config(**changes) -> TrainConfig:
    return TrainConfig(**{"epochs": 3, "lr": 0.1, "warmup_steps": 0, "progress": False, "checkpoint_every": 2, **changes})


# -- item 2: a write that fails -----------------------------------------------------------------------
def test_id_file_that_cannot_be_written_is_one_error_naming_it(tmp_path):
    path = tmp_path / "data" / "all.bin"
    pieces = [("some text to encode " * 2000, True, True)] * 4
    tokenizer = CharTokenizer.train(["some text to encode"])
    with pytest.raises(SeqtextError, match=f"^cannot write {path} \\(") as caught, file_size_limit(16 * 1024):
        encode_documents(iter(pieces), tokenizer, path)
    assert "ulimit -f" in str(caught.value) and "\n" not in str(caught.value)
    assert not path.exists() and leftovers(tmp_path) == []


def test_checkpoint_that_cannot_be_written_keeps_the_last_good_one(tmp_path, monkeypatch):
    saves = []
    real_save = torch.save

    def failing_save(obj, target, *args, **kwargs):
        saves.append(target)
        if len(saves) < 2:
            return real_save(obj, target, *args, **kwargs)
        Path(target).write_bytes(b"PK half a zip")  # what torch leaves when the disk fills
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 73984 vs 73872")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(TrainingError) as caught:
        Trainer(ToyTask(), toy_config(), tmp_path).fit()
    message = str(caught.value)
    checkpoint = tmp_path / CHECKPOINT_FILE
    assert message.startswith(f"cannot write {checkpoint} (") and "enforce fail" not in message
    assert f"the last good checkpoint is kept in {checkpoint}" in message and "resume=True" in message
    assert leftovers(tmp_path) == []
    monkeypatch.setattr(torch, "save", real_save)
    resumed = Trainer(ToyTask(), toy_config(), tmp_path)
    resumed.load_checkpoint()  # the first checkpoint, whole
    assert resumed.step == 2


def test_model_that_cannot_be_saved_is_one_error_and_keeps_the_old_one(tmp_path, tiny_lm_dir):
    lm = seqtext.load(tiny_lm_dir, device="cpu")
    lm.save(tmp_path)
    before = (tmp_path / modeldir.WEIGHTS_FILE).read_bytes()
    with pytest.raises(SeqtextError, match=f"^cannot write {tmp_path / modeldir.WEIGHTS_FILE} \\(file too large"), \
            file_size_limit(len(before) // 2):
        lm.save(tmp_path)
    assert (tmp_path / modeldir.WEIGHTS_FILE).read_bytes() == before and leftovers(tmp_path) == []


def test_json_that_cannot_be_written_is_one_error_naming_it(tmp_path, monkeypatch):
    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(SeqtextError, match=f"^cannot write {tmp_path / 'run.json'} \\(no space left on the device\\)$"):
        modeldir.write_json(tmp_path / "run.json", {"kind": "toy"})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("blocks", [40, 700])  # 40: the id file fails; 700: the first checkpoint
def test_train_under_a_file_size_limit_says_one_line(tmp_path, small_corpus, blocks):
    """The issue's commands: ``(ulimit -f N; seqtext train lm ...)``."""
    command = (f"ulimit -f {blocks}; exec {sys.executable} -m seqtext.cli.main train lm {small_corpus} -o out --hidden 256 "
               f"--embedding-dim 16 --layers 1 --max-steps 20 --checkpoint-every 10 --quiet")
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: cannot write out/"), done.stderr
    assert leftovers(tmp_path) == []


# -- item 3: resumed past its limit before any model was saved -----------------------------------------
def test_resume_past_max_steps_before_the_first_evaluation_says_what_happened(tmp_path):
    def stop_at_six(trainer):
        if trainer.step == 6:
            trainer.request_stop()

    with pytest.raises(TrainingInterrupted):
        Trainer(ToyTask(), toy_config(eval_every=100), tmp_path).fit(on_step=stop_at_six)
    with pytest.raises(TrainingError) as caught:
        Trainer(ToyTask(), toy_config(eval_every=100, max_steps=3), tmp_path).fit(resume=True)
    message = str(caught.value)
    assert "stopped at step 6, before its first evaluation (due at step 12)" in message
    assert "no model was saved yet" in message and "train.max_steps 3 ends the run there" in message and "(over 6)" in message
    resumed = Trainer(ToyTask(), toy_config(eval_every=100, max_steps=7), tmp_path)
    resumed.fit(resume=True)  # what the message says to do
    assert resumed.step == 7 and (tmp_path / modeldir.METRICS_FILE).is_file()


# -- item 5: a name too long for the file system ---------------------------------------------------------
@pytest.mark.parametrize("name", ["a" * 5000, "./" + "a" * 5000, "a" * 300])
def test_a_name_too_long_for_a_file_name_is_a_model_error(name):
    with pytest.raises(ModelError) as caught:
        seqtext.load(name)
    assert len(str(caught.value)) < 400


def test_generate_with_a_model_name_too_long_is_one_line():
    result = CliRunner().invoke(main, ["generate", "a", "-m", "x" * 5000])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1


# -- item 6: an export target that takes no files ----------------------------------------------------------
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("fmt", ["torchscript"])
def test_export_into_a_place_that_takes_no_files_is_refused_first(tiny_lm_dir, fmt, monkeypatch):
    built = []
    monkeypatch.setattr("seqtext.export.writer.build_graph", lambda *a: built.append(a))
    with pytest.raises(SeqtextError, match=r"^cannot write /proc/x\.pt \("):
        export_model(seqtext.load(tiny_lm_dir, device="cpu"), "/proc/x.pt", fmt)
    assert built == []  # refused before the work
    result = CliRunner().invoke(main, ["export", str(tiny_lm_dir), "-o", "/proc/x.pt"])
    assert result.exit_code == 1 and result.stderr.startswith("Error: cannot write /proc/x.pt"), result.output


# -- item 7: JSON nested too deep -------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [100_000, 500])
def test_config_nested_too_deep_is_a_model_error(tmp_path, tiny_lm_dir, depth):
    for name in ("config.json", "vocab.json", "model.safetensors"):
        (tmp_path / name).write_bytes((tiny_lm_dir / name).read_bytes())
    config = json.loads((tmp_path / "config.json").read_text())
    text = json.dumps(config)[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ModelError, match="nested more than 100 levels deep"):
        seqtext.load(tmp_path)
    result = CliRunner().invoke(main, ["generate", "a", "-m", str(tmp_path)])
    assert result.exit_code == 1 and result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1


def test_run_file_nested_too_deep_is_a_training_error(tmp_path):
    (tmp_path / "run.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(TrainingError, match="nested too deep"):
        load_run(tmp_path)


def test_no_write_guard_hides_a_read_error(tmp_path):
    """Only writes are reported as writes: a corpus that cannot be read is not 'cannot write'."""
    def unreadable():
        raise OSError(errno.EIO, "Input/output error")
        yield

    with pytest.raises(OSError, match="Input/output error"):
        encode_documents(unreadable(), CharTokenizer.train(["abc"]), tmp_path / "all.bin")
    assert os.listdir(tmp_path) == []
