"""Layer-collapse detection on constructed masks, and the critical sparsity."""
import math

import pandas as pd
import pytest

from lthlib.core.config import ModelConfig, PruneConfig
from lthlib.nets.collapse import collapsed_layers, critical_sparsity, network_collapsed
from lthlib.nets.masks import full_masks, prunable_names
from lthlib.nets.models import build_model


def tiny(name: str, n_classes: int = 2, n_layers: int = 2, bidirectional: bool = True):
    cfg = ModelConfig(name=name, embed_dim=8, n_filters=4, filter_sizes=(2, 3), hidden_dim=4,
                      n_layers=n_layers, bidirectional=bidirectional, dropout=0.3)
    model = build_model(cfg, 50, n_classes, init_seed=0)
    return model, full_masks(model, prunable_names(model, PruneConfig()))


def by_tensor(model, masks) -> dict[str, dict]:
    return {row["tensor"]: row for row in collapsed_layers(model, masks)}


@pytest.mark.parametrize("name", ["cnn", "lstm", "gru"])
def test_a_full_mask_is_healthy(name):
    model, masks = tiny(name, n_classes=4)
    rows = collapsed_layers(model, masks)
    assert [r["tensor"] for r in rows] == list(masks)
    assert not any(r["collapsed"] or r["fully_pruned"] or r["dead_units"] for r in rows)
    assert all(r["n_alive"] == r["n"] for r in rows)
    assert not network_collapsed(model, masks)


def test_kinds_and_units_of_the_cnn():
    model, masks = tiny("cnn", n_classes=4)
    rows = by_tensor(model, masks)
    assert {n: r["kind"] for n, r in rows.items()} == {
        "embedding.weight": "embedding", "convs.0.weight": "conv", "convs.0.bias": "bias",
        "convs.1.weight": "conv", "convs.1.bias": "bias", "fc.weight": "output", "fc.bias": "output_bias"}
    assert rows["embedding.weight"]["n_units"] == 8 and rows["convs.0.weight"]["n_units"] == 4
    assert rows["fc.weight"]["n_units"] == 4


def test_a_dead_filter_is_flagged_but_the_layer_lives():
    model, masks = tiny("cnn")
    masks["convs.1.weight"][2] = False
    row = by_tensor(model, masks)["convs.1.weight"]
    assert row["dead_units"] == 1 and not row["collapsed"] and not row["fully_pruned"]
    assert not network_collapsed(model, masks)


def test_a_fully_pruned_conv_collapses_and_all_of_them_disconnect_the_network():
    model, masks = tiny("cnn")
    masks["convs.0.weight"][:] = False
    row = by_tensor(model, masks)["convs.0.weight"]
    assert row["fully_pruned"] and row["collapsed"] and row["dead_units"] == 4
    assert not network_collapsed(model, masks)  # the other width still carries the input
    masks["convs.1.weight"][:] = False
    assert network_collapsed(model, masks)


def test_a_filter_reading_only_dead_embedding_dimensions_carries_nothing():
    model, masks = tiny("cnn")
    masks["embedding.weight"][:, 1:] = False          # only dimension 0 survives
    masks["convs.0.weight"][:, 0, :] = False          # width-2 filters lose their weights on it
    rows = by_tensor(model, masks)
    assert rows["embedding.weight"]["dead_units"] == 7
    assert rows["convs.0.weight"]["collapsed"] and not rows["convs.0.weight"]["fully_pruned"]
    assert not rows["convs.1.weight"]["collapsed"] and not network_collapsed(model, masks)
    masks["convs.1.weight"][:, 0, :] = False
    assert network_collapsed(model, masks)


@pytest.mark.parametrize("name", ["cnn", "lstm"])
def test_pruning_the_embedding_or_the_output_weights_disconnects_the_network(name):
    model, masks = tiny(name)
    masks["embedding.weight"][:] = False
    rows = by_tensor(model, masks)
    assert network_collapsed(model, masks)
    assert all(r["collapsed"] for r in rows.values() if r["kind"] not in ("bias", "output_bias"))
    model, masks = tiny(name)
    masks["fc.weight"][:] = False
    assert network_collapsed(model, masks) and by_tensor(model, masks)["fc.weight"]["collapsed"]


def test_a_pruned_output_bias_is_not_a_collapse():
    model, masks = tiny("cnn", n_classes=2)
    masks["fc.bias"][:] = False
    row = by_tensor(model, masks)["fc.bias"]
    assert row["n"] == 1 and row["fully_pruned"] and not row["collapsed"] and row["dead_units"] == 0
    assert not network_collapsed(model, masks)


def test_lstm_gate_rows_recurrence_and_a_cut_first_layer():
    model, masks = tiny("lstm")
    masks["rnn.weight_ih_l1"][5] = False
    rows = by_tensor(model, masks)
    assert rows["rnn.weight_ih_l1"]["dead_units"] == 1 and rows["rnn.weight_ih_l1"]["n_units"] == 16
    masks["rnn.weight_hh_l0"][:] = False              # the recurrence goes, the layer still reads x_t
    rows = by_tensor(model, masks)
    assert rows["rnn.weight_hh_l0"]["collapsed"] and not rows["rnn.weight_ih_l0"]["collapsed"]
    assert not network_collapsed(model, masks)
    masks["rnn.weight_ih_l0"][:] = False
    masks["rnn.weight_ih_l0_reverse"][:] = False      # nothing enters the first layer
    rows = by_tensor(model, masks)
    assert network_collapsed(model, masks)
    assert rows["rnn.weight_ih_l1"]["collapsed"] and not rows["rnn.weight_ih_l1"]["fully_pruned"]


def test_a_hidden_unit_reached_only_through_the_recurrence_still_carries_signal():
    model, masks = tiny("lstm", n_layers=1, bidirectional=False)
    hidden = 4
    masks["rnn.weight_ih_l0"][:] = False
    masks["rnn.weight_ih_l0"][0, 0] = True            # input gate of unit 0 reads x
    masks["rnn.weight_hh_l0"][:] = False
    masks["rnn.weight_hh_l0"][2 * hidden + 1, 0] = True  # cell gate of unit 1 reads h_0
    masks["fc.weight"][:] = False
    masks["fc.weight"][0, 1] = True                   # the logit reads unit 1 only
    assert not network_collapsed(model, masks)
    masks["rnn.weight_hh_l0"][2 * hidden + 1, 0] = False
    assert network_collapsed(model, masks)
    assert by_tensor(model, masks)["rnn.weight_hh_l0"]["collapsed"]


def test_critical_sparsity():
    levels = [{"remaining": 1.0, "collapsed": False}, {"remaining": 0.5, "collapsed": False},
              {"remaining": 0.25, "collapsed": True}, {"remaining": 0.125, "collapsed": True}]
    assert critical_sparsity(levels) == 0.25
    assert critical_sparsity(pd.DataFrame(levels)) == 0.25
    assert math.isnan(critical_sparsity([{**row, "collapsed": False} for row in levels]))
    assert math.isnan(critical_sparsity([]))
