"""Options shared by the ``seqtext train`` commands, and turning them into a TrainConfig."""

from __future__ import annotations

import click

TRAINER_OPTIONS = [
    click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Directory for the model, checkpoint and log."),
    click.option("--epochs", type=click.IntRange(1), default=10, help="Passes over the training data."),
    click.option("--max-steps", type=click.IntRange(1), default=None, help="Stop after this many optimizer steps."),
    click.option("--lr", type=click.FloatRange(0, min_open=True), default=2e-3, help="Peak learning rate (AdamW)."),
    click.option("--weight-decay", type=click.FloatRange(0), default=0.01, help="AdamW weight decay (not on embeddings or biases)."),
    click.option("--schedule", type=click.Choice(["cosine", "plateau", "constant"]), default="cosine", help="Learning rate after warm-up: cosine decay, halve on a validation plateau, or constant."),
    click.option("--warmup-steps", type=click.IntRange(0), default=100, help="Steps of linear learning-rate warm-up."),
    click.option("--clip-norm", type=click.FloatRange(0), default=1.0, help="Clip the gradient norm to this (0: off)."),
    click.option("--eval-every", type=click.IntRange(1), default=None, help="Evaluate every N steps (default: each epoch)."),
    click.option("--checkpoint-every", type=click.IntRange(1), default=200, help="Write a checkpoint every N steps."),
    click.option("--patience", type=click.IntRange(1), default=None, help="Stop after N evaluations without improvement."),
    click.option("--seed", type=int, default=0, help="Random seed; the same seed gives the same run on the same machine."),
    click.option("--weights-dtype", type=click.Choice(["float32", "float16"]), default="float32", help="Storage type of the saved weights (float16 halves the size)."),
    click.option("--resume", is_flag=True, help="Continue the run in --output from its last checkpoint, with its saved options."),
    click.option("--quiet", is_flag=True, help="No progress bar or messages."),
]

TRAIN_KEYS = ("epochs", "max_steps", "lr", "weight_decay", "schedule", "warmup_steps", "clip_norm", "eval_every", "checkpoint_every", "patience", "seed")


def trainer_options(command):
    for option in reversed(TRAINER_OPTIONS):
        command = option(command)
    return command


def train_config(options: dict):
    from seqtext.trainer import TrainConfig

    return TrainConfig(progress=not options["quiet"], **{key: options[key] for key in TRAIN_KEYS})


def logger(options: dict):
    if options["quiet"]:
        return None
    return lambda message: click.echo(message, err=True)
