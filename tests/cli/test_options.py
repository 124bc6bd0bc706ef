"""Every option declared once: the options of ``seqtext train`` are built from the config
dataclasses, ``generate``/``tag``/``classify`` share their defaults with the Python API and the
server, and the error bridge shows a library message's ``section.field`` as the flag."""

import dataclasses
import inspect
import warnings

import click
import pytest
from click.testing import CliRunner

from seqtext import configs
from seqtext.cli.main import main
from seqtext.cli.options import ConfigOption, with_flags
from seqtext.errors import ConfigError

COMMANDS = {
    "lm": (configs.LMDataOptions, configs.LMConfig, configs.TrainConfig),
    "tagger": (configs.TaggerDataOptions, configs.TaggerConfig, configs.TrainConfig),
    "classifier": (configs.ClassifierDataOptions, configs.ClassifierConfig, configs.TrainConfig),
}
# The options of `seqtext train X` that set no config field.
NOT_FIELDS = {"files", "train_files", "val_file", "dev_file", "init_from", "output", "overwrite", "resume", "quiet", "nproc",
              "help"}
# Wide enough that every option's help is one line.
WIDE = {"terminal_width": 2000, "max_content_width": 2000}


def _command(name: str) -> click.Command:
    return main.commands["train"].commands[name]


def _option_lines(name: str) -> dict[str, str]:
    """``seqtext train NAME --help`` as {flag: its entry} (an entry may wrap onto a second line,
    where its flag column is wide)."""
    result = CliRunner().invoke(main, ["train", name, "--help"], **WIDE)
    assert result.exit_code == 0, result.output
    entries = []
    for line in result.output.split("Options:")[1].splitlines():
        if line.startswith("  -"):  # an entry; its wrapped help is indented further
            entries.append(line)
        elif entries:
            entries[-1] += " " + line.strip()
    return {word: entry for entry in entries for word in entry.replace(",", "").split()[:2] if word.startswith("--")}


@pytest.mark.parametrize("name", COMMANDS)
def test_train_help_shows_every_field_with_its_default_and_choices(name):
    lines = _option_lines(name)
    for cls in COMMANDS[name]:
        for field_name, flag in configs.flags(cls).items():
            line = lines[flag.flag(field_name)]
            assert flag.help.split(" [default")[0] in line
            default = _default(cls, field_name)
            if default not in (None, False):
                assert f"[default: {default}" in line, (field_name, line)
            if flag.choices is not None:
                assert "[" + "|".join(flag.choices) + "]" in line, (field_name, line)


def _default(cls, name: str):
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


@pytest.mark.parametrize("name", COMMANDS)
def test_train_options_are_the_fields(name):
    """Each config option sets the field it was built from, with its default; no option maps by hand."""
    command = _command(name)
    ctx = click.Context(command)
    params = {p.name: p for p in command.params}
    built = {}
    for param in params.values():
        if isinstance(param, ConfigOption):
            built[param.target] = param
        else:
            assert param.name in NOT_FIELDS, f"--{param.name} sets no config field"
    for cls in COMMANDS[name]:
        for field_name, flag in configs.flags(cls).items():
            param = built.pop(f"{cls.section}.{field_name}")
            assert flag.flag(field_name) in param.opts
            if not param.multiple:  # a repeatable option's default is "none given": the field's None
                assert param.get_default(ctx) == _default(cls, field_name)
            if flag.choices is not None:
                assert tuple(param.type.choices) == flag.choices
    assert not built


def test_pooling_offers_concat():
    """The drift that started it: --pooling lacked concat, which the config has."""
    pooling = next(p for p in _command("classifier").params if p.name == "pooling")
    assert tuple(pooling.type.choices) == configs.POOLINGS


@pytest.mark.parametrize("cls", [cls for classes in COMMANDS.values() for cls in classes[:2]] + [configs.TrainConfig])
def test_a_choice_outside_the_flag_is_refused_by_the_config_naming_the_field(cls):
    sizes = {f.name: 0 for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
    for field_name, flag in configs.flags(cls).items():
        if flag.choices is None:
            continue
        with pytest.raises(ConfigError, match=rf"unknown {cls.section}\.{field_name} 'no-such'"):
            cls(**sizes, **{field_name: "no-such"})
        for value in flag.choices:  # every value the option offers is one the config knows
            try:
                cls(**sizes, **{field_name: value})
            except ConfigError as err:
                assert "unknown" not in str(err)


def test_config_messages_name_section_and_field():
    with pytest.raises(ConfigError, match=r"^model\.hidden_size must be a whole number of 1 or more, not 0"):
        configs.LMConfig(vocab_size=0, hidden_size=0)
    with pytest.raises(ConfigError, match=r"^data\.val_fraction must be between 0 and 1"):
        configs.LMDataOptions(val_fraction=1.0)
    with pytest.raises(ConfigError, match=r"^train\.max_time must be a positive number"):
        configs.TrainConfig(max_time=-1.0)


def test_with_flags_replaces_known_fields_only():
    known = {"data.pretrained_lms": "--pretrained-lm", "model.num_layers": "--layers"}
    assert with_flags("data.pretrained_lms: x: no such model directory", known) == "--pretrained-lm: x: no such model directory"
    assert with_flags("model.num_layers must be 1 or more", known) == "--layers must be 1 or more"
    assert with_flags("model.directions is wrong", known) == "model.directions is wrong"
    assert with_flags("/runs/model.num_layers.txt and out/model.safetensors", known) == "/runs/model.num_layers.txt and out/model.safetensors"
    arguments = {"overwrite=True": "--overwrite", "resume=True": "--resume", "out_dir": "--output"}
    assert (with_flags("give overwrite=True to replace the run in out_dir, or resume=True", arguments)
            == "give --overwrite to replace the run in --output, or --resume")
    # After a model's config.json, the names are that file's keys.
    message = "data.pretrained_lms: /m/config.json: model.num_layers must be an integer"
    assert with_flags(message, known) == "--pretrained-lm: /m/config.json: model.num_layers must be an integer"


def test_the_command_line_shows_a_library_message_with_flags(tmp_path):
    result = CliRunner().invoke(main, ["train", "classifier", str(tmp_path / "train.csv"), "-o", str(tmp_path / "out"),
                                       "--pooling", "concat"])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == ("Error: --pooling concat and model.directions belong to language-model encoders: "
                                     "give --pretrained-lm")


# -- generate, tag and classify: one set of defaults ---------------------------------------------------
def _cli_defaults(command: click.Command) -> dict:
    return {max(p.opts, key=len).lstrip("-").replace("-", "_"): p.default for p in command.params if p.opts}


def _python_defaults(function) -> dict:
    return {name: p.default for name, p in inspect.signature(function).parameters.items()}


def test_generate_defaults_are_shared():
    from seqtext.lm.model import LanguageModel

    cli = _cli_defaults(main.commands["generate"])
    shared = dataclasses.asdict(configs.GENERATE)
    for method, leaves_out in ((LanguageModel.generate, set()), (LanguageModel.stream, {"beam_size", "num_samples"})):
        python = _python_defaults(method)
        assert set(shared) - set(python) == leaves_out
        for name in set(shared) - leaves_out:
            assert python[name] == shared[name], (method.__name__, name)
    for name, value in shared.items():
        assert cli[name] == value, name
    assert configs.GENERATE.temperature == 0.8


def test_server_defaults_are_shared():
    pytest.importorskip("pydantic")
    from seqtext.server.schemas import ClassifyRequest, GenerateRequest
    from seqtext.server.settings import ServeSettings

    fields = GenerateRequest.model_fields
    for name, value in dataclasses.asdict(configs.GENERATE).items():
        if name == "max_length":  # null in the request: the library's, within the server's cap
            assert ServeSettings(max_length=10**6).default_length == value
        else:
            assert fields[name].default == value, name
    assert ClassifyRequest.model_fields["threshold"].default == configs.CLASSIFY.threshold


def test_tag_and_classify_defaults_are_shared():
    from seqtext.classifier.model import TextClassifier
    from seqtext.tagger.model import SequenceTagger

    for method in (SequenceTagger.tag, SequenceTagger.predict, SequenceTagger.predict_tokens):
        assert _python_defaults(method)["batch_size"] == configs.TAG.batch_size
    assert _cli_defaults(main.commands["tag"])["batch_size"] == configs.TAG.batch_size
    python = _python_defaults(TextClassifier.predict)
    cli = _cli_defaults(main.commands["classify"])
    for name, value in dataclasses.asdict(configs.CLASSIFY).items():
        assert python[name] == cli[name] == value, name


def test_random_seed_still_works_with_a_deprecation_warning(tiny_lm_dir):
    import seqtext

    lm = seqtext.load(tiny_lm_dir)
    expected = lm.generate("ROMEO:", max_length=20, seed=4)
    with pytest.warns(DeprecationWarning, match="random_seed is now seed"):
        assert lm.generate("ROMEO:", max_length=20, random_seed=4) == expected
    with pytest.warns(DeprecationWarning, match="random_seed is now seed"):
        assert "".join(lm.stream("ROMEO:", max_length=20, random_seed=4)) == expected[0].text
    with pytest.warns(DeprecationWarning) as caught:  # the text and the seed under their old keywords
        assert lm.generate(seed="ROMEO:", max_length=20, random_seed=4) == expected
    assert ["first argument" in str(w.message) for w in caught] == [True, False]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "".join(lm.stream("ROMEO:", max_length=20, seed=4)) == expected[0].text
