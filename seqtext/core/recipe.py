"""The sequence every training run follows, written once: ``run_training(recipe, ...)``.

Hold the output directory, settle the options (fresh, resumed, or a distributed worker's),
let the kind's ``Recipe`` read the data and build its vocabulary, config and task, train with
the shared ``Trainer``, let the recipe add its baseline, and load the best model back. The
recipe is passed in, so this module knows no model kind.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import torch

from seqtext.configs import DEFAULT_BUDGET, TrainConfig, has_limits
from seqtext.core import distributed
from seqtext.core.batching import Task
from seqtext.core.devices import resolve_device
from seqtext.core.progress import Workload
from seqtext.core.runs import Run, prepare_run, publish_run, save_run, settle_options
from seqtext.core.trainer import Trainer


@dataclass
class Session:
    """What one training process knows of its run while the recipe sets it up. The recipe may
    replace the configs (options it settles itself); ``run_training`` sets ``run`` once a fresh
    run has one."""

    out_dir: Path
    run: Run | None  # the saved run (resumed, or rank 0's for a distributed worker); None while a fresh run starts
    model: Any  # the model config, None when a fresh run was given none
    data: Any
    train: TrainConfig
    resume: bool
    given: dict
    log: Callable[[str], None]


class Recipe:
    """One model kind's part of a training run, called by ``run_training`` in this order:
    ``prepare``, ``ready``, ``make_task``, ``finish``, ``load``. A recipe keeps what one step
    learns (data, tokenizer, config) for the steps after it, so it serves a single run."""

    kind: str  # run.json's kind: language_model | tagger | classifier
    configs: tuple[type, type, type]  # the (model, data, train) config classes

    def __init__(self, train_files, fixed: dict):
        self.train_files = train_files  # as given: None or empty when resuming
        self.fixed = fixed  # other options (name: value) that a resumed run refuses

    def prepare(self, session: Session) -> Run | None:
        """Read the data, build the vocabulary and the network config, check that the network
        fits; return a fresh run's ``Run`` (its files written), None when ``session.run`` is set."""
        raise NotImplementedError

    def ready(self, session: Session) -> None:
        """After run.json is published and before the seed is set: what needs the run in place
        on every rank (a check of the data, fine-tuning language models)."""

    def make_task(self, session: Session) -> Task:
        """The network (built just after the seed is set) and the task that trains it."""
        raise NotImplementedError

    def workload(self, session: Session) -> Workload:
        """What the plan line calls the model and the items its loss counts (after ``make_task``)."""
        return Workload()

    def resumes_checkpoint(self, session: Session) -> bool:
        """Whether the trainer continues from the checkpoint in ``out_dir``."""
        return session.resume

    def finish(self, session: Session) -> None:
        """After training, while the run is still held: a baseline on the same split."""

    def load(self, out_dir: Path, device: str):
        """The best model the run kept."""
        raise NotImplementedError


def run_training(recipe: Recipe, out_dir, *, model=None, data=None, train: TrainConfig | None = None, resume: bool = False,
                 overwrite: bool = False, given: dict | None = None, log: Callable[[str], None] | None = None,
                 on_step: Callable[[Trainer], None] | None = None):
    """Train the model ``recipe`` describes into ``out_dir`` and return the best one.

    ``model``, ``data`` and ``train`` are the kind's config objects (defaults when None); with
    ``resume`` the ones saved in ``out_dir`` are used and ``given`` names the options the user
    set explicitly (``{"train.max_steps": "--max-steps"}``): those that only say how long to go
    on replace the saved ones, the others must not differ. Only rank 0 calls ``log``; before the
    first step it gets the plan line (``seqtext.core.progress.Plan``), also in log.jsonl.
    A fresh run given none of ``train.max_time``, ``train.epochs`` and ``train.max_steps`` trains
    for the kind's default budget (``seqtext.configs.DEFAULT_BUDGET``)."""
    out_dir = Path(out_dir)
    distributed.setup(resolve_device((train or TrainConfig()).device))
    log = log if log is not None and distributed.is_main() else _quiet  # rank 0 reports
    defaulted = not resume and not has_limits(train) and recipe.kind in DEFAULT_BUDGET  # said in the plan
    with prepare_run(out_dir, recipe.kind, resume=resume, overwrite=overwrite) as run:
        run, model, data, train = settle_options(out_dir, run, recipe.kind, recipe.configs, given, recipe.train_files,
                                                 (model, data, train), recipe.fixed)
        session = Session(out_dir, run, model, data, train, resume=resume, given=given or {}, log=log)
        fresh = recipe.prepare(session)
        if fresh is not None:
            save_run(out_dir, fresh)
            session.run = fresh
        publish_run()
        recipe.ready(session)
        torch.manual_seed(session.train.seed)
        task = recipe.make_task(session)
        workload = replace(recipe.workload(session), default_limits=defaulted)
        trainer = Trainer(task, session.train, out_dir, log=log, workload=workload)
        trainer.fit(resume=recipe.resumes_checkpoint(session), on_step=on_step)
        recipe.finish(session)
    distributed.barrier()  # the best model is written
    return recipe.load(out_dir, device=session.train.device)


def _quiet(message: str) -> None:
    pass
