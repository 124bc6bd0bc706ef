"""What the ``seqtext`` commands share: option types that refuse nonsense (``nan``, ``inf``,
seeds beyond 64 bits), defaults read from the library's config dataclasses (one source of
defaults), the trainer options, and turning a command's options into config objects plus the
set of options the user gave explicitly (what ``--resume`` checks)."""

from __future__ import annotations

import dataclasses
import math

import click
from click.core import ParameterSource

MAX_SEED = 2**63 - 1
SEED = click.IntRange(0, MAX_SEED)


class FiniteFloat(click.FloatRange):
    """A float range that also refuses ``nan`` and ``inf`` (FloatRange lets both through)."""

    name = "number"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def default(cls, name: str):
    """The default of field ``name`` of the dataclass ``cls``: options show what the library uses."""
    for field in dataclasses.fields(cls):
        if field.name == name:
            if field.default is not dataclasses.MISSING:
                return field.default
            return field.default_factory()
    raise KeyError(f"{cls.__name__} has no field {name}")


def _train_default(name: str):
    from seqtext.configs import TrainConfig

    return default(TrainConfig, name)


def _epochs_help() -> str:
    from seqtext.configs import DEFAULT_EPOCHS, EPOCHS_OTHERWISE

    return f"Passes over the training data [default: taggers {DEFAULT_EPOCHS['tagger']}, others {EPOCHS_OTHERWISE}]."


def _lr_help() -> str:
    from seqtext.configs import DEFAULT_LR, unit_default_help

    return (f"Peak learning rate (AdamW) [default: taggers and classifiers {DEFAULT_LR['tagger']}, classifiers with "
            f"--pretrained-lm {DEFAULT_LR['classifier_lm']}, language models by "
            f"--tokenizer: {unit_default_help('lr')}].")


def device_option(command):
    """``--device`` for every command that runs a network."""
    return click.option("--device", default="auto", show_default=True,
                        help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps.")(command)


TRAINER_OPTIONS = [
    click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Directory for the model, checkpoint and log."),
    click.option("--overwrite", is_flag=True, help="Replace a run already in --output (a fresh run into a non-empty directory is refused otherwise)."),
    click.option("--resume", is_flag=True, help="Continue the run in --output from its last checkpoint, with its saved options; --epochs, --max-steps, --max-time, --patience and --quiet may be given to change them."),
    click.option("--epochs", type=click.IntRange(1), default=_train_default("epochs"), help=_epochs_help()),
    click.option("--max-steps", type=click.IntRange(1), default=None, help="Stop after this many optimizer steps."),
    click.option("--max-time", type=FiniteFloat(0, min_open=True), default=None, help="Stop after this many seconds of training (all resumed sessions together), keeping the best model."),
    click.option("--lr", type=FiniteFloat(0, 10, min_open=True), default=None, help=_lr_help()),
    click.option("--weight-decay", type=FiniteFloat(0), default=_train_default("weight_decay"), help="AdamW weight decay on weight matrices (not on embeddings, norms, biases or CRF transitions)."),
    click.option("--schedule", type=click.Choice(["cosine", "plateau", "constant"]), default=_train_default("schedule"), help="Learning rate after warm-up: cosine decay, halve on a validation plateau, or constant."),
    click.option("--warmup-steps", type=click.IntRange(0), default=_train_default("warmup_steps"), help="Steps of linear learning-rate warm-up."),
    click.option("--clip-norm", type=FiniteFloat(0), default=_train_default("clip_norm"), help="Clip the gradient norm to this (0: off)."),
    click.option("--eval-every", type=click.IntRange(1), default=None, help="Evaluate every N steps (default: each epoch)."),
    click.option("--checkpoint-every", type=click.IntRange(1), default=_train_default("checkpoint_every"), help="Write a checkpoint every N steps."),
    click.option("--patience", type=click.IntRange(1), default=None, help="Stop after N evaluations without improvement."),
    click.option("--seed", type=SEED, default=_train_default("seed"), help="Random seed; the same seed gives the same run on the same machine."),
    click.option("--weights-dtype", type=click.Choice(["float32", "float16"]), default="float32", help="Storage type of the saved weights (float16 halves the size)."),
    click.option("--quiet", is_flag=True, help="No progress bar or messages."),
    click.option("--tensorboard", is_flag=True, help="Also write each logged evaluation as TensorBoard scalars into OUTPUT/tensorboard (needs the tensorboard package)."),
    device_option,
    click.option("--nproc", type=click.IntRange(1, 256), default=1, help="Train in N local processes (torch.distributed; Gloo on CPU, NCCL on CUDA); --batch-size stays the global batch. For several machines use torchrun (see the README)."),
]

# Trainer option -> the config field it sets.
TRAIN_FIELDS = {
    "epochs": "train.epochs", "max_steps": "train.max_steps", "max_time": "train.max_time", "lr": "train.lr",
    "weight_decay": "train.weight_decay", "schedule": "train.schedule", "warmup_steps": "train.warmup_steps",
    "clip_norm": "train.clip_norm", "eval_every": "train.eval_every", "checkpoint_every": "train.checkpoint_every",
    "patience": "train.patience", "seed": "train.seed", "weights_dtype": "data.weights_dtype", "device": "train.device",
    "tensorboard": "train.tensorboard",
}


def trainer_options(command):
    for option in reversed(TRAINER_OPTIONS):
        command = option(command)
    return command


def configs(params: dict, fields: dict[str, str]) -> tuple[dict[str, dict], dict[str, str]]:
    """The command's options as ``{section: {field: value}}`` and the options the user gave
    explicitly as ``{"section.field": "--option"}``, for the library's resume checks."""
    ctx = click.get_current_context()
    labels = {p.name: max(p.opts, key=len) for p in ctx.command.params}
    sections: dict[str, dict] = {"model": {}, "data": {}, "train": {}}
    given: dict[str, str] = {}
    for param, target in {**fields, **TRAIN_FIELDS}.items():
        section, name = target.split(".")
        sections[section][name] = params[param]
        if ctx.get_parameter_source(param) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            given[target] = labels.get(param, param)
    sections["train"]["progress"] = not params["quiet"]
    if ctx.get_parameter_source("quiet") == ParameterSource.COMMANDLINE:
        given["train.progress"] = "--quiet"
    return sections, given


def relaunch_if_asked(nproc: int, batch_size: int | None = None) -> None:
    """With ``--nproc N`` (and not already a worker), run this same command as N workers through
    torch's elastic launcher and exit with their status. A ``batch_size`` that cannot be shared
    among them is refused here, before anything is read or written."""
    import sys

    from seqtext.core import distributed

    if nproc <= 1 or distributed.launched():
        return
    if batch_size is not None and batch_size % nproc:
        raise click.BadParameter(f"{batch_size} does not divide among {nproc} processes; use a multiple of {nproc}",
                                 param_hint="--batch-size")
    argv, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            argv.append(arg)
    raise click.exceptions.Exit(distributed.launch(nproc, argv))


def logger(options: dict):
    if options["quiet"]:
        return None
    return lambda message: click.echo(message, err=True)
