"""``seqtext train``: train a model on your own data.

The options that set a config field are built from the field (``seqtext.configs``: flag, type,
default, choices and help in its ``Flag``), so they cannot drift from the library; each knows
its field, which is also how ``--resume`` knows what the user changed. The library is imported
inside the command functions (torch costs over a second), so that ``--help`` stays fast.
"""

from __future__ import annotations

import importlib

import click

from seqtext.cli.options import (
    LibraryOption,
    config_options,
    configs,
    logger,
    relaunch_if_asked,
    trainer_options,
)
from seqtext.configs import (
    LM_UNIT_DEFAULTS,
    ClassifierConfig,
    ClassifierDataOptions,
    LMConfig,
    LMDataOptions,
    TaggerConfig,
    TaggerDataOptions,
    TrainConfig,
)


def _finish(message_metric: str, result, output: str) -> None:
    from seqtext.core import distributed

    if not distributed.is_main():
        return
    value = result.metrics.get(message_metric)
    click.echo(f"saved to {output} ({message_metric.replace('_', ' ')} {value:.4f})" if value is not None else f"saved to {output}")
    baseline = result.metrics.get("baseline")
    if isinstance(baseline, dict):
        metric = message_metric if message_metric in baseline else baseline.get("metric", "score")
        score = baseline.get(metric, baseline.get("score"))
        click.echo(f"baseline on the same split: {baseline['name']} ({metric.replace('_', ' ')} {score:.4f})")


class TrainGroup(click.Group):
    """Imports a subcommand of ``LAZY`` only when it is asked for: ``embeddings`` reads its
    defaults from seqtext.text.embeddings, which loads torch."""

    LAZY = {"embeddings": "seqtext.cli.embeddings"}

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx, name):
        if name in self.LAZY and name not in self.commands:
            self.add_command(getattr(importlib.import_module(self.LAZY[name]), name))
        return super().get_command(ctx, name)


@click.group(cls=TrainGroup)
def train():
    """Train a model on your own files."""


@train.command("lm")
@click.argument("files", nargs=-1)
@click.option("--val-file", multiple=True, cls=LibraryOption, library_name="val_files", help="Validation file(s); without it the last --val-fraction of the corpus.")
@config_options(LMDataOptions, LMConfig)
@click.option("--init-from", default=None, cls=LibraryOption, library_name="init_from", help="Start from this language model's weights and tokenizer (name or directory); its network settings replace --hidden and the like.")
@trainer_options
def train_lm(files, val_file, init_from, **params):
    """Train a language model on FILES (plain text, JSONL or CSV; globs allowed).

    With --resume, FILES may be left out: the run continues on the corpus it started with.
    """
    if not files and not params["resume"]:
        raise click.UsageError("give at least one training file")
    nproc = params.pop("nproc")
    relaunch_if_asked(nproc, None if params["resume"] or nproc <= 1 else _lm_batch_size(params, files, init_from))
    from seqtext.lm.training import train_language_model

    sections, given = configs(params)
    lm = train_language_model(
        list(files), params["output"], model=LMConfig(vocab_size=0, **sections["model"]),
        data=LMDataOptions(**sections["data"]), train=TrainConfig(**sections["train"]), val_files=list(val_file) or None,
        resume=params["resume"], overwrite=params["overwrite"], given=given, init_from=init_from, log=logger(params),
    )
    _finish("loss", lm, params["output"])


def _lm_batch_size(params: dict, files, init_from) -> int | None:
    """The global batch a new language-model run will use, for --nproc to share out (None: the
    model given by --init-from decides)."""
    unit = params["tokenizer"]
    if params["batch_size"] or init_from:
        return params["batch_size"]
    if unit == "auto":
        from seqtext.lm.corpus import auto_unit

        unit = auto_unit(list(files))
    return LM_UNIT_DEFAULTS[unit]["batch_size"]


@train.command("classifier")
@click.argument("train_files", nargs=-1)
@click.option("--dev", "dev_file", default=None, cls=LibraryOption, library_name="dev_file", help="Dev file for choosing the best epoch; without it --dev-fraction of the training examples, drawn at random (fixed seed).")
@config_options(ClassifierDataOptions, ClassifierConfig)
@trainer_options
def train_classifier_command(train_files, dev_file, **params):
    """Train a text classifier on TRAIN_FILES (CSV/TSV, JSONL, fastText, 'label text' lines or a
    saved dataset; globs allowed). With --resume they may be left out."""
    if not train_files and not params["resume"]:
        raise click.UsageError("give a training file")
    relaunch_if_asked(params.pop("nproc"), None if params["resume"] else params["batch_size"])
    from seqtext.classifier.training import train_classifier

    sections, given = configs(params)
    classifier = train_classifier(
        list(train_files), dev_file, params["output"], model=ClassifierConfig(vocab_size=0, num_classes=0, **sections["model"]),
        data=ClassifierDataOptions(**sections["data"]), train=TrainConfig(**sections["train"]), resume=params["resume"],
        overwrite=params["overwrite"], given=given, log=logger(params),
    )
    _finish("accuracy", classifier, params["output"])


@train.command("tagger")
@click.argument("train_files", nargs=-1)
@click.option("--dev", "dev_file", default=None, cls=LibraryOption, library_name="dev_file", help="Dev file for choosing the best epoch; without it the last --dev-fraction of the training sentences.")
@config_options(TaggerDataOptions, TaggerConfig)
@trainer_options
def train_tagger_command(train_files, dev_file, **params):
    """Train a sequence tagger (POS, NER, chunking) on TRAIN_FILES (CoNLL, CoNLL-U or JSONL;
    globs allowed). With --resume they may be left out."""
    if not train_files and not params["resume"]:
        raise click.UsageError("give a training file")
    relaunch_if_asked(params.pop("nproc"), None if params["resume"] else params["batch_size"])
    from seqtext.tagger.training import train_tagger

    sections, given = configs(params)
    tagger = train_tagger(
        list(train_files), dev_file, params["output"], model=TaggerConfig(0, 0, 0, **sections["model"]),
        data=TaggerDataOptions(**sections["data"]), train=TrainConfig(**sections["train"]), resume=params["resume"],
        overwrite=params["overwrite"], given=given, log=logger(params),
    )
    _finish("f1" if tagger.spans else "accuracy", tagger, params["output"])

