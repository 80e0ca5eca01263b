"""Vectorised concurrent CNN training equals independent train_model runs (CPU, no dropout)."""
import copy

import pytest
import torch

from lthlib.concurrent import train_concurrent
from lthlib.config import ConfigError, PruneConfig
from lthlib.masks import full_masks, magnitude_prune, prunable_names, random_masks_like
from lthlib.models import build_model
from lthlib.train import train_model

from helpers import tiny_data, tiny_model_config, tiny_train_config


def test_concurrent_runs_match_independent_runs():
    data = tiny_data(n_classes=2, n_train=96, n_val=16, n_test=16, seed=2)
    cfg = tiny_model_config("cnn", dropout=0.0)
    models, masks = [], []
    for r in range(3):  # different inits and different masks, as random re-init levels are
        model = build_model(cfg, len(data.vocab), data.n_classes, init_seed=100 + r)
        names = prunable_names(model, PruneConfig())
        state = {k: v.detach() for k, v in model.state_dict().items()}
        m = magnitude_prune(state, full_masks(model, names), 0.5, "local")
        masks.append(m if r != 2 else random_masks_like(m, seed=7))
        models.append(model)
    train_cfg = tiny_train_config(epochs=2, lr=1e-2, batch_size=16)

    together = train_concurrent(models, masks, data, train_cfg, seed=5)
    for r, (model, m) in enumerate(zip(models, masks)):
        alone = train_model(copy.deepcopy(model), m, data, train_cfg, seed=5, progress=False)
        for name, value in alone.final_state.items():
            got = together.final_states[r][name]
            assert torch.allclose(got, value, rtol=1e-4, atol=1e-5), \
                f"run {r} {name}: max diff {(got - value).abs().max():.3g}"
            if name in m:
                assert torch.count_nonzero(got[~m[name]]) == 0
        for e, row in enumerate(alone.epochs):
            assert together.train_losses[e][r] == pytest.approx(row["train_loss"], rel=1e-4, abs=1e-5)


def test_concurrent_refuses_recurrent_models():
    data = tiny_data(n_train=32, n_val=8, n_test=8)
    model = build_model(tiny_model_config("lstm"), len(data.vocab), data.n_classes, init_seed=0)
    with pytest.raises(ConfigError):
        train_concurrent([model], [{}], data, tiny_train_config(epochs=1), seed=0)
