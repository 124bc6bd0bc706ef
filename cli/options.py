"""What the ``seqtext`` commands share: option types that refuse nonsense (``nan``, ``inf``,
seeds beyond 64 bits), the click options built from the config dataclasses' fields (their
``configs.Flag``: one declaration of each option's flag, type, default, choices and help), the
trainer options, and turning a command's options into config objects plus the set of options the
user gave explicitly (what ``--resume`` checks).

Torch-free: the library's heavy modules are imported inside the functions that need them, so
that ``seqtext --help`` stays fast."""

from __future__ import annotations

import dataclasses
import math
import re
import sys

import click
from click.core import ParameterSource

from seqtext.configs import MAX_SEED, Flag, TrainConfig, flags, parse_duration
from seqtext.errors import ConfigError

SEED = click.IntRange(0, MAX_SEED)
FLAGS_KEY = "seqtext.flags"  # ctx.meta: {"section.field": "--flag"} of the command being run


class FiniteFloat(click.FloatRange):
    """A float range that also refuses ``nan`` and ``inf`` (FloatRange lets both through)."""

    name = "number"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


class Duration(click.ParamType):
    """A length of time as seconds: ``300``, ``90s``, ``5m``, ``1h``, ``1h30m`` (the library's
    ``configs.parse_duration``, so that the option and a Python caller read the same)."""

    name = "duration"

    def convert(self, value, param, ctx):
        try:
            return parse_duration(value)
        except ConfigError:
            self.fail(f"{value!r} is not a duration: give seconds (300) or 90s, 5m, 1h, 1h30m, above 0", param, ctx)


class Pairs(click.ParamType):
    """``0=negative,1=positive`` as ``{"0": "negative", "1": "positive"}``."""

    name = "text"

    def convert(self, value, param, ctx):
        if isinstance(value, dict):
            return value
        try:
            return dict(pair.split("=", 1) for pair in value.split(","))
        except ValueError:
            self.fail("use the form '0=negative,1=positive'", param, ctx)


def default(cls, name: str):
    """The default of field ``name`` of the dataclass ``cls``: options show what the library uses."""
    for field in dataclasses.fields(cls):
        if field.name == name:
            if field.default is not dataclasses.MISSING:
                return field.default
            return field.default_factory()
    raise KeyError(f"{cls.__name__} has no field {name}")


class LibraryOption(click.Option):
    """An option that the library's messages know by ``library_name``: a config field
    (``"data.pretrained_lms"``), a keyword argument (``"out_dir"``) or, for a flag, the argument
    set (``"resume=True"``). While the command line is parsed it records its flag in ``ctx.meta``,
    so that the error bridge (cli/main.py) can show the flag the user typed instead."""

    def __init__(self, *args, library_name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.library_name = library_name

    def handle_parse_result(self, ctx, opts, args):
        known = ctx.meta.setdefault(FLAGS_KEY, {})
        known[self.library_name] = max(self.opts, key=len)
        if self.library_name == "train.device":  # devices.resolve_device names its argument, device
            known["device"] = known[self.library_name]
        return super().handle_parse_result(ctx, opts, args)


class ConfigOption(LibraryOption):
    """An option that sets the config field ``target`` (``"section.field"``)."""

    def __init__(self, *args, target: str, **kwargs):
        super().__init__(*args, library_name=target, **kwargs)
        self.target = target


def _click_type(field: dataclasses.Field, flag: Flag):
    """The click type of a field's option: from ``flag`` and the field's annotation."""
    annotation = str(field.type)
    if flag.choices is not None:
        return click.Choice(flag.choices)
    if flag.kind == "file":
        return click.Path(exists=True, dir_okay=False)
    if flag.kind == "pairs":
        return Pairs()
    if flag.kind == "duration":
        return Duration()
    if annotation.startswith("float"):
        return FiniteFloat(flag.low, flag.high, min_open=flag.low_open, max_open=flag.high_open)
    if annotation.startswith("int"):
        return click.IntRange(flag.low, flag.high) if flag.low is not None or flag.high is not None else click.INT
    return None  # str


def config_option(cls, name: str):
    """The click option of field ``name`` of the config dataclass ``cls``."""
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    flag = flags(cls)[name]
    settings = {"cls": ConfigOption, "target": f"{cls.section}.{name}", "help": flag.help, "metavar": flag.metavar}
    annotation = str(field.type)
    if annotation.startswith("bool"):
        settings.update(is_flag=True, default=field.default)
    elif annotation.startswith("list"):
        settings["multiple"] = True
    else:
        settings.update(type=_click_type(field, flag), default=field.default)
    return click.option(flag.flag(name), **settings)


def config_options(*classes):
    """A decorator adding the options of every field with a Flag in ``classes``, in field order."""
    built = [config_option(cls, name) for cls in classes for name in flags(cls)]

    def decorate(command):
        for option in reversed(built):
            command = option(command)
        return command

    return decorate


def device_option(command):
    """``--device`` for every command that runs a network (TrainConfig.device's flag)."""
    flag = flags(TrainConfig)["device"]
    return click.option("--device", default=default(TrainConfig, "device"), show_default=True, help=flag.help,
                        cls=LibraryOption, library_name="device")(command)


def trainer_options(command):
    """The options every ``seqtext train`` command shares: where the run goes, TrainConfig's
    fields, ``--quiet`` and ``--nproc``."""
    before = [
        click.option("-o", "--output", required=True, type=click.Path(file_okay=False), cls=LibraryOption, library_name="out_dir",
                     help="Directory for the model, checkpoint and log."),
        click.option("--overwrite", is_flag=True, cls=LibraryOption, library_name="overwrite=True",
                     help="Replace a run already in --output (a fresh run into a non-empty directory is refused otherwise)."),
        click.option("--resume", is_flag=True, cls=LibraryOption, library_name="resume=True",
                     help="Continue the run in --output from its last checkpoint, with its saved options; --epochs, --max-steps, --max-time, --patience and --quiet may be given to change them."),
    ]
    after = [
        click.option("--quiet", is_flag=True, help="No progress bar or messages."),
        click.option("--nproc", type=click.IntRange(1, 256), default=1, help="Train in N local processes (torch.distributed; Gloo on CPU, NCCL on CUDA); --batch-size stays the global batch. For several machines use torchrun (see the README)."),
    ]
    for option in reversed(after):
        command = option(command)
    command = config_options(TrainConfig)(command)
    for option in reversed(before):
        command = option(command)
    return command


def configs(params: dict) -> tuple[dict[str, dict], dict[str, str]]:
    """The command's config options as ``{section: {field: value}}`` and the options the user
    gave explicitly as ``{"section.field": "--option"}``, for the library's resume checks."""
    ctx = click.get_current_context()
    sections: dict[str, dict] = {"model": {}, "data": {}, "train": {}}
    given: dict[str, str] = {}
    for param in ctx.command.params:
        if not isinstance(param, ConfigOption):
            continue
        section, name = param.target.split(".")
        sections[section][name] = params[param.name]
        if ctx.get_parameter_source(param.name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            given[param.target] = max(param.opts, key=len)
    # A bar only on a terminal: in a file or a pipe its redraws are carriage returns; the trainer
    # writes one line per evaluation instead. Always given, so a resumed run draws as this one can.
    sections["train"]["progress"] = not params["quiet"] and sys.stderr.isatty()
    given["train.progress"] = "--quiet"
    return sections, given


def with_flags(message: str, known: dict[str, str]) -> str:
    """``message`` with each library name in ``known`` (``section.field``, ``out_dir``,
    ``resume=True``) replaced by its flag. What follows a model's ``config.json:`` names that
    file's keys, not options, and stays."""
    if not known:
        return message
    names = "|".join(map(re.escape, sorted(known, key=len, reverse=True)))
    pattern = re.compile(rf"(?<![\w./-])(?:{names})(?![\w-])")
    head, marker, tail = message.partition("config.json:")
    seen = set()

    def flag(match):  # the first mention is the name; a later one may be a plain word ("no CUDA device")
        name = match.group(0)
        if name in seen:
            return name
        seen.add(name)
        return known[name]

    return pattern.sub(flag, head) + marker + tail


def relaunch_if_asked(nproc: int, batch_size: int | None = None) -> None:
    """With ``--nproc N`` (and not already a worker), run this same command as N workers through
    torch's elastic launcher and exit with their status. A ``batch_size`` that cannot be shared
    among them is refused here, before anything is read or written."""
    from seqtext.core import distributed  # torch: only when a command runs

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
    """What the library's ``log`` callable prints on stderr (nothing with --quiet), with the
    config names in its messages (``train.max_time``) shown as the flags of this command."""
    if options["quiet"]:
        return None
    ctx = click.get_current_context(silent=True)
    known = ctx.meta.get(FLAGS_KEY, {}) if ctx is not None else {}
    return lambda message: click.echo(with_flags(message, known), err=True)
