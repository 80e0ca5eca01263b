"""The parameters: derived from the config dataclasses, one typed parser, clear errors."""
from __future__ import annotations

import dataclasses
import re

import pytest

from lthlib.core import config, parameters
from lthlib.core.config import (
    PARAMETER,
    ConfigError,
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    PruneConfig,
    TrainConfig,
    param,
)
from lthlib.core.parameters import PARAMETERS, apply_overrides, derive, parse, parse_all
from lthlib.experiment import profiles

#: the public names before the table was derived, and the fields they set: they keep their meaning
HISTORIC = {
    "epochs": ("train", "epochs"), "lr": ("train", "lr"), "batch_size": ("train", "batch_size"),
    "patience": ("train", "patience"), "device": ("train", "device"),
    "levels": ("prune", "levels"), "prune_fraction": ("prune", "fraction"),
    "prune_scope": ("prune", "scope"), "prunable": ("prune", "prunable"),
    "include_embedding": ("prune", "include_embedding"), "include_output": ("prune", "include_output"),
    "max_vocab": ("data", "max_vocab"), "max_len": ("data", "max_len"),
    "train_subsample": ("data", "train_subsample"), "eval_subsample": ("data", "eval_subsample"),
    "val_fraction": ("data", "val_fraction"), "protocol": ("data", "protocol"),
    "embedding": ("model", "embedding"), "embed_dim": ("model", "embed_dim"),
    "hidden_dim": ("model", "hidden_dim"), "n_filters": ("model", "n_filters"), "n_layers": ("model", "n_layers"),
    "rewind_point": (None, "rewind_point"), "finetune_epochs": (None, "finetune_epochs"),
    "init_scope": (None, "init_scope"), "score_batches": (None, "score_batches"),
    "synflow_rounds": (None, "synflow_rounds"), "early_bird_epsilon": (None, "early_bird_epsilon"),
    "early_bird_window": (None, "early_bird_window"),
}
PARTS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "prune": PruneConfig}


# -- the table ---------------------------------------------------------------------------------

def test_historic_names_keep_their_meaning():
    assert {name: (PARAMETERS[name].section, PARAMETERS[name].field) for name in HISTORIC} == HISTORIC


def test_the_table_is_every_field_but_the_declared_exclusions():
    expected = set()
    for section, cls in [*PARTS.items(), (None, ExperimentConfig)]:
        for f in dataclasses.fields(cls):
            if f.metadata.get(PARAMETER) is False or (section is None and f.name in PARTS):
                continue
            expected.add((f.metadata.get(PARAMETER) or f.name, section, f.name))
    assert {(p.name, p.section, p.field) for p in PARAMETERS.values()} == expected
    for excluded in ("dataset", "name", "arm", "seed", "fraction", "scope", "data", "train"):
        assert excluded not in PARAMETERS


def test_arm_fields_are_the_top_level_parameters_and_unchanged():
    assert config.SECTIONS == ("data", "model", "train", "prune")
    assert config.ARM_FIELDS == tuple(p.name for p in PARAMETERS.values() if p.section is None)
    assert config.ARM_FIELDS == ("rewind_point", "finetune_epochs", "init_scope", "score_batches",
                                 "synflow_rounds", "early_bird_epsilon", "early_bird_window")


def test_defaults_are_the_config_defaults():
    assert parameters.values(ExperimentConfig()) == {name: p.default for name, p in PARAMETERS.items()}


def test_a_field_added_to_a_config_dataclass_is_a_parameter_at_once():
    grown_data = dataclasses.make_dataclass(
        "GrownData", [("lowercase", bool, True), ("hidden", int, param(3, parameter=False)),
                      ("chars", int, param(0, name="char_limit"))], bases=(DataConfig,), frozen=True)
    grown = dataclasses.make_dataclass(
        "Grown", [("data", grown_data, dataclasses.field(default_factory=grown_data)), ("warmup", int, 0)],
        bases=(ExperimentConfig,), frozen=True)
    table = derive(grown)
    assert set(table) - set(PARAMETERS) == {"lowercase", "char_limit", "warmup"}
    assert (table["lowercase"].section, table["lowercase"].type, table["lowercase"].default) == ("data", bool, True)
    assert (table["char_limit"].field, table["warmup"].section) == ("chars", None)


def test_two_parameters_of_one_name_are_refused():
    clash = dataclasses.make_dataclass("Clash", [("levels", int, 3)], bases=(ExperimentConfig,), frozen=True)
    with pytest.raises(TypeError, match="parameter 'levels' is both prune.levels and ExperimentConfig.levels"):
        derive(clash)


def test_param_refuses_a_name_for_a_field_that_is_not_a_parameter():
    with pytest.raises(TypeError):
        param(1, name="x", parameter=False)


# -- parsing -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [name for name, p in PARAMETERS.items() if p.default is not None])
def test_every_default_round_trips(name):
    default = PARAMETERS[name].default
    for given in (default, repr(default), str(default), f"  {default!r} "):
        value = parse(name, given)
        assert value == default and type(value) is type(default), given
    if isinstance(default, tuple):
        assert parse(name, list(default)) == default


@pytest.mark.parametrize("name, text, value", [
    ("epochs", "3", 3), ("epochs", "3.0", 3), ("epochs", 4.0, 4), ("lr", "1e-3", 1e-3), ("lr", "1", 1.0),
    ("lr", 1, 1.0), ("prune_fraction", "0.5", 0.5), ("max_len", "64", 64), ("patience", 2, 2),
    ("include_output", "false", False), ("include_output", "TRUE", True), ("include_output", "False", False),
    ("bf16", False, False), ("filter_sizes", "[3, 4]", (3, 4)), ("filter_sizes", [2], (2,)),
    ("filter_sizes", "(5,)", (5,)), ("rewind_point", "500it", "500it"), ("rewind_point", "'2ep'", "2ep"),
    ("prunable", " weights ", "weights"), ("protocol", "ag_news=official", "ag_news=official"),
    ("device", "cuda:0", "cuda:0"),
])
def test_values_are_read_and_typed(name, text, value):
    parsed = parse(name, text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("text", [None, "", "  ", "none", "None", "null", "NULL"])
def test_none_and_its_words_mean_unset(text):
    assert parse("epochs", text) is None
    assert parse("rewind_point", text) is None


@pytest.mark.parametrize("name, value, message", [
    ("epochs", "three", "parameter epochs='three': expected int"),
    ("epochs", 2.5, "parameter epochs=2.5: expected int"),
    ("epochs", "2.5", "parameter epochs='2.5': expected int"),
    ("epochs", True, "parameter epochs=True: expected int"),
    ("epochs", "[3]", "parameter epochs='[3]': expected int"),
    ("lr", "fast", "parameter lr='fast': expected float"),
    ("lr", False, "parameter lr=False: expected float"),
    ("max_len", "long", "parameter max_len='long': expected int"),
    ("include_output", "yes", "parameter include_output='yes': expected bool (true or false)"),
    ("include_output", 1, "parameter include_output=1: expected bool (true or false)"),
    ("include_output", "0", "parameter include_output='0': expected bool (true or false)"),
    ("filter_sizes", "3", "parameter filter_sizes='3': expected a list of int"),
    ("filter_sizes", "[3, 'a']", "parameter filter_sizes=\"[3, 'a']\": expected a list of int"),
    ("filter_sizes", [3.5], "parameter filter_sizes=[3.5]: expected a list of int"),
    ("prunable", 3, "parameter prunable=3: expected str"),
    ("prunable", "[1]", "parameter prunable='[1]': expected str"),
])
def test_a_value_of_the_wrong_type_is_refused_naming_parameter_value_and_type(name, value, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        parse(name, value)


def test_an_unknown_name_is_refused_with_the_valid_names():
    with pytest.raises(ConfigError, match=r"unknown parameter 'epoch'; valid: .*\bepochs\b.*\bprune_fraction\b"):
        parse("epoch", 3)


# -- many at once, and into a configuration ----------------------------------------------------

def test_parse_all_types_the_given_and_drops_the_unset():
    raw = {"levels": "3", "prune_fraction": None, "epochs": "none", "rewind_point": "500it",
           "include_output": "false", "early_bird_epsilon": 0.2}
    assert parse_all(raw) == {"levels": 3, "rewind_point": "500it", "include_output": False,
                              "early_bird_epsilon": 0.2}
    assert parse_all({}) == {}


def test_parse_all_names_every_unknown_parameter():
    with pytest.raises(ConfigError, match=r"unknown parameters 'datasets', 'seeds'; valid: batch_size, "):
        parse_all({"datasets": "imdb", "epochs": 2, "seeds": None})


def test_apply_overrides_sets_parts_and_top_level_fields():
    parts = {"data": DataConfig(), "model": ModelConfig(), "train": TrainConfig(), "prune": PruneConfig()}
    top = {"arm": "winning_ticket"}
    apply_overrides(parts, top, {"prune_fraction": "0.4", "epochs": 3, "rewind_point": "50it", "lr": None,
                                 "filter_sizes": [2, 3]})
    assert parts["prune"] == PruneConfig(fraction=0.4)
    assert parts["train"] == TrainConfig(epochs=3)
    assert parts["model"] == ModelConfig(filter_sizes=(2, 3))
    assert top == {"arm": "winning_ticket", "rewind_point": "50it"}


def test_experiment_parses_its_overrides():
    cfg = profiles.experiment("smoke", "synthetic", "cnn", "late_rewinding", 0, epochs="2", prune_fraction="0.5",
                              include_output="false", rewind_point="1it", dropout=0.1, levels=None)
    assert (cfg.train.epochs, cfg.prune.fraction, cfg.prune.include_output, cfg.rewind_point, cfg.model.dropout) \
        == (2, 0.5, False, "1it", 0.1)
    assert cfg.prune.levels == profiles.experiment("smoke", "synthetic", "cnn").prune.levels
    with pytest.raises(ConfigError, match="parameter epochs='two': expected int"):
        profiles.experiment("smoke", "synthetic", "cnn", epochs="two")
    with pytest.raises(ConfigError, match="unknown parameter 'seeds'"):
        profiles.experiment("smoke", "synthetic", "cnn", seeds=[0])
