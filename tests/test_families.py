"""The family study of notebook 09: its grids, their cells and settings (no training here; the
smoke report renders notebook 09, and tests/test_transformer.py trains a tiny pretrained
encoder through the runner)."""
from __future__ import annotations

import pandas as pd
import pytest

from lthlib.core.config import ConfigError
from lthlib.experiment.families import PRIMARY_ARMS, family_grids
from lthlib.experiment.profiles import QUICK_FAMILIES, experiment
from lthlib.report.family_verdicts import FAMILY_COLUMNS, family_table


def test_quick_family_grids_are_the_studys_models_datasets_and_seeds():
    grids = family_grids("quick")
    assert set(grids) == {"scratch", "pretrained"}
    scratch, pretrained = grids["scratch"], grids["pretrained"]
    assert (scratch.models, scratch.datasets, scratch.seeds) == (["gru", "rnn"], ["imdb", "ag_news"], [0, 1, 2])
    assert (pretrained.models, pretrained.datasets) == (["minilm"], ["sst2"])
    assert scratch.arms == pretrained.arms == PRIMARY_ARMS
    assert QUICK_FAMILIES.seeds == (0, 1, 2)


def test_the_pretrained_encoder_refuses_the_keep_glove_reinit_and_runs_the_rest():
    expected = family_grids("quick", models=["minilm"])["pretrained"].expected()
    refused = expected[expected["refused"] != ""]
    assert set(refused["arm"]) == {"random_reinit_keep_glove"}
    assert refused["refused"].str.contains("random_reinit").all()
    ran = expected[expected["refused"] == ""]
    assert set(ran["arm"]) == {"winning_ticket", "random_reinit", "random_pruning"} and len(ran) == 9


def test_quick_settings_of_each_family():
    scratch = family_grids("quick")["scratch"]
    rnn, gru = scratch.config("imdb", "rnn", "winning_ticket", 0), scratch.config("imdb", "gru", "winning_ticket", 0)
    lstm = experiment("quick", "imdb", "lstm")
    assert rnn.train.clip_grad_norm == 1.0 and gru.train.clip_grad_norm is None
    assert (gru.model.hidden_dim, gru.model.embedding, gru.prune.fraction) == (lstm.model.hidden_dim, "glove", 0.36)
    minilm = family_grids("quick")["pretrained"].config("sst2", "minilm", "winning_ticket", 0)
    assert (minilm.data.tokenizer, minilm.model.n_layers, minilm.model.embedding) == ("minilm_l6", 2, "pretrained")
    assert (minilm.prune.fraction, minilm.prune.levels, minilm.prune.scope, minilm.prune.branch_levels) \
        == (0.36, 5, "global", ())
    assert (minilm.train.lr_schedule, minilm.train.clip_grad_norm, minilm.train.patience) == ("linear", 1.0, None)


def test_models_outside_the_study_are_refused():
    with pytest.raises(ConfigError, match="none of the family study's"):
        family_grids("quick", models=["cnn"])
    assert set(family_grids("quick", models=["gru"])) == {"scratch"}


def test_the_family_table_of_no_verdicts_is_empty_with_its_columns():
    assert list(family_table(pd.DataFrame(), pd.DataFrame()).columns) == FAMILY_COLUMNS
