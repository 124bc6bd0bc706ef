"""``run_training``, the one training skeleton, with a toy recipe: the steps run in order, the seed
is set just before the network is built, a resumed run ends where an uninterrupted one does, and
the trainer calls a ``Task``'s hooks without probing for them."""

import ast
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import seqtext
from seqtext.classifier.training import ClassifierTask, LMClassifierTask
from seqtext.configs import TrainConfig
from seqtext.core.batching import BucketedTask, Task
from seqtext.core.recipe import Recipe, run_training
from seqtext.core.runs import Run, names
from seqtext.errors import TrainingError, TrainingInterrupted
from seqtext.lm.training import LMTask
from seqtext.tagger.training import TaggerTask


@dataclass
class ToyModel:
    scale: float = 1.0


@dataclass
class ToyData:
    points: int = 32


class ToyTask(Task):
    """Fit y = 3x with one linear unit; only the methods a task must have."""

    def __init__(self, network, points: int):
        super().__init__(network)
        self.x = torch.linspace(-1, 1, points).unsqueeze(1)

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
        torch.save(self.network.state_dict(), Path(directory) / "toy.pt")


class ToyRecipe(Recipe):
    kind = "toy"
    configs = (ToyModel, ToyData, TrainConfig)

    def __init__(self, train_files, seed_seen: list | None = None):
        super().__init__(train_files, fixed={})
        self.calls: list[str] = []
        self.seed_seen = seed_seen if seed_seen is not None else []

    def prepare(self, s):
        self.calls.append("prepare")
        if s.run is not None:
            return None
        return Run(kind="toy", model={"scale": 1.0}, data={"points": s.data.points}, train=vars(s.train),
                   files={"train": names(self.train_files)})

    def ready(self, s):
        self.calls.append("ready")
        assert (s.out_dir / "run.json").is_file()

    def make_task(self, s):
        self.calls.append("make_task")
        self.seed_seen.append(torch.initial_seed())
        return ToyTask(torch.nn.Linear(1, 1), s.data.points)

    def finish(self, s):
        self.calls.append("finish")

    def load(self, out_dir, device):
        self.calls.append("load")
        return torch.load(Path(out_dir) / "toy.pt", weights_only=True)


def toy_train(**options) -> TrainConfig:
    return TrainConfig(**{"epochs": 3, "lr": 0.05, "warmup_steps": 0, "seed": 7, "progress": False, "device": "cpu",
                          "checkpoint_every": 1, **options})


def test_run_training_calls_the_recipe_in_order_and_seeds_just_before_the_network(tmp_path):
    recipe = ToyRecipe(["train.txt"])
    weights = run_training(recipe, tmp_path / "run", data=ToyData(), train=toy_train())
    assert recipe.calls == ["prepare", "ready", "make_task", "finish", "load"]
    assert recipe.seed_seen == [7]
    assert set(weights) == {"weight", "bias"}
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert saved["kind"] == "toy" and saved["files"]["train"] == names(["train.txt"])
    assert not (tmp_path / "run" / ".seqtext.lock").exists()


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    whole = run_training(ToyRecipe(["t"]), tmp_path / "whole", data=ToyData(), train=toy_train())

    def stop(trainer):
        if trainer.step == 5:
            trainer.request_stop()

    with pytest.raises(TrainingInterrupted, match="resume=True"):
        run_training(ToyRecipe(["t"]), tmp_path / "parts", data=ToyData(), train=toy_train(), on_step=stop)
    recipe = ToyRecipe([])
    resumed = run_training(recipe, tmp_path / "parts", resume=True)
    assert recipe.seed_seen == [7]  # the saved run's seed
    for name in whole:
        assert torch.equal(whole[name], resumed[name]), name


def test_resume_and_overwrite_together_are_refused_naming_the_arguments(tmp_path):
    with pytest.raises(TrainingError, match="resume=True continues the run in out_dir and overwrite=True replaces it"):
        run_training(ToyRecipe(["t"]), tmp_path, resume=True, overwrite=True)


def test_a_task_base_has_hooks_that_do_nothing():
    task = Task(torch.nn.Linear(1, 1))
    assert task.lr_groups() == [] and task.state_dict() == {} and task.sample() is None
    task.on_epoch_start(0)
    task.load_state_dict({})
    assert not task.freezes_parameters


def test_every_task_is_a_task_and_only_ulmfit_freezes_parameters():
    for cls in (LMTask, TaggerTask, ClassifierTask, LMClassifierTask):
        assert issubclass(cls, Task)
    assert issubclass(ClassifierTask, BucketedTask) and issubclass(TaggerTask, BucketedTask)
    assert LMClassifierTask.freezes_parameters
    assert not any(cls.freezes_parameters for cls in (LMTask, TaggerTask, ClassifierTask))


def test_core_imports_no_model_kind():
    core = Path(seqtext.__file__).parent / "core"
    kinds = ("seqtext.lm", "seqtext.tagger", "seqtext.classifier", "seqtext.api", "seqtext.export", "seqtext.server")
    for path in core.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in getattr(node, "names", [])]
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                assert not any(m.startswith(kinds) for m in modules), (path.name, modules)
