"""Prunable sets, masks from scores (magnitude among them), random masks, fused application,
summaries."""
import pytest
import torch

from lthlib.core.config import PruneConfig
from lthlib.nets.masks import (
    MaskApplier,
    apply_masks,
    full_masks,
    jaccard,
    layer_table,
    magnitude_prune,
    magnitudes,
    masks_from_scores,
    n_nonzero,
    prunable_names,
    random_masks_like,
    remaining_fraction,
)
from lthlib.nets.models import build_model

from helpers import tiny_model_config


def _model(name="lstm"):
    return build_model(tiny_model_config(name, bidirectional=True), 40, 4, init_seed=0)


def test_prunable_sets():
    model = _model("lstm")
    everything = [n for n, _ in model.named_parameters()]
    assert prunable_names(model, PruneConfig()) == everything
    weights = prunable_names(model, PruneConfig(prunable="weights"))
    assert weights and all("bias" not in n for n in weights)
    assert "embedding.weight" in weights and "fc.weight" in weights
    no_emb = prunable_names(model, PruneConfig(include_embedding=False))
    assert "embedding.weight" not in no_emb and "fc.bias" in no_emb
    no_out = prunable_names(model, PruneConfig(include_output=False))
    assert not any(n.startswith("fc.") for n in no_out) and "embedding.weight" in no_out


def _random_params(shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {n: torch.randn(s, generator=g) for n, s in shapes.items()}


def test_local_pruning_keeps_the_compounded_fraction_of_every_tensor():
    shapes = {"a": (37, 11), "b": (101,), "c": (3, 5, 7), "d": (2,)}
    masks = {n: torch.ones(s, dtype=torch.bool) for n, s in shapes.items()}
    expected = {n: masks[n].numel() for n in masks}
    for level in range(1, 4):
        params = _random_params(shapes, seed=level)  # "trained" weights differ each level
        new = magnitude_prune(params, masks, 0.2, "local")
        for n in masks:
            assert not (new[n] & ~masks[n]).any(), "a pruned weight came back"
            expected[n] -= int(0.2 * expected[n] + 0.5)
            kept = int(new[n].sum())
            assert kept == expected[n]
            assert abs(kept - 0.8 ** level * masks[n].numel()) <= 1.5
            # the smallest survivors went
            survivors = params[n][masks[n]].abs()
            dropped = params[n][masks[n] & ~new[n]].abs()
            kept_values = params[n][new[n]].abs()
            if dropped.numel() and kept_values.numel():
                assert dropped.max() <= kept_values.min()
            assert survivors.numel() == int(masks[n].sum())
        masks = new


def test_global_pruning_ranks_across_tensors():
    params = {"big": torch.randn(100) * 10 + 50, "tiny": torch.randn(50) * 1e-3}
    masks = {n: torch.ones_like(p, dtype=torch.bool) for n, p in params.items()}
    new = magnitude_prune(params, masks, 0.2, "global")
    assert int(new["tiny"].sum()) == 20 and int(new["big"].sum()) == 100  # 30 pruned, all tiny
    local = magnitude_prune(params, masks, 0.2, "local")
    assert int(local["tiny"].sum()) == 40 and int(local["big"].sum()) == 80


def test_pruning_is_deterministic_with_ties():
    params = {"w": torch.tensor([1.0, -1.0, 1.0, 2.0, -1.0, 1.0, 3.0, 1.0, 0.5, 1.0])}
    masks = {"w": torch.ones(10, dtype=torch.bool)}
    first = magnitude_prune(params, masks, 0.3, "local")
    assert torch.equal(first["w"], magnitude_prune(params, masks, 0.3, "local")["w"])
    # 0.5 goes, then the first two of the tied 1.0s in position order
    assert first["w"].tolist() == [False, False, True, True, True, True, True, True, False, True]


def test_already_pruned_weights_never_come_back():
    params = {"w": torch.arange(1.0, 11.0)}
    masks = {"w": torch.tensor([True] * 5 + [False] * 5)}  # the large ones are pruned
    new = magnitude_prune(params, masks, 0.4, "global")
    assert new["w"].tolist() == [False, False, True, True, True] + [False] * 5


def test_masks_from_scores_keeps_exact_counts_among_survivors_with_ties_by_position():
    scores = {"a": torch.tensor([5.0, 1.0, 1.0, 1.0, 9.0]), "b": torch.tensor([[2.0, 2.0], [0.0, 7.0]])}
    masks = {"a": torch.tensor([True, True, True, True, False]), "b": torch.ones(2, 2, dtype=torch.bool)}
    local = masks_from_scores(scores, masks, "local", remaining=0.5)
    # a: round(2.5) = 3 kept of its 4 survivors (9.0 is already pruned): the tie of 1.0s loses
    # its first entry; b: 2 kept, the two 2.0s tie and the earlier goes.
    assert local["a"].tolist() == [True, False, True, True, False]
    assert local["b"].tolist() == [[False, True], [False, True]]
    glob = masks_from_scores(scores, masks, "global", remaining=0.5)
    assert sum(int(m.sum()) for m in glob.values()) == 5  # round(0.5 * 9) = 5 (half up)
    assert glob["a"].tolist() == [True, False, False, True, False]
    assert glob["b"].tolist() == [[True, True], [False, True]]
    with pytest.raises(ValueError, match="only 4 survive"):
        masks_from_scores(scores, masks, "local", remaining=1.0)
    with pytest.raises(ValueError, match="finite"):
        masks_from_scores({**scores, "a": torch.tensor([1.0, float("nan"), 0, 0, 0])}, masks, remaining=0.5)


def test_the_two_counts_are_fractions_of_the_survivors_and_of_the_whole():
    g = torch.Generator().manual_seed(0)
    shapes = {"a": (37, 11), "b": (101,), "c": (3, 5, 7)}
    scores = {n: torch.randn(s, generator=g, dtype=torch.float64) for n, s in shapes.items()}
    masks = {n: torch.rand(s, generator=g) < 0.7 for n, s in shapes.items()}
    alive = {n: int(m.sum()) for n, m in masks.items()}
    size = {n: m.numel() for n, m in masks.items()}
    half_up = lambda x: int(x + 0.5)  # noqa: E731 (x >= 0)
    local = masks_from_scores(scores, masks, "local", prune_fraction=0.3)
    assert {n: int(m.sum()) for n, m in local.items()} == {n: alive[n] - half_up(0.3 * alive[n]) for n in masks}
    glob = masks_from_scores(scores, masks, "global", prune_fraction=0.3)
    assert sum(int(m.sum()) for m in glob.values()) == sum(alive.values()) - half_up(0.3 * sum(alive.values()))
    local = masks_from_scores(scores, masks, "local", remaining=0.4)
    assert {n: int(m.sum()) for n, m in local.items()} == {n: half_up(0.4 * size[n]) for n in masks}
    glob = masks_from_scores(scores, masks, "global", remaining=0.4)
    assert sum(int(m.sum()) for m in glob.values()) == half_up(0.4 * sum(size.values()))
    for new in (local, glob):  # pruned entries never come back, and the lowest survivors went
        assert not any(bool((new[n] & ~masks[n]).any()) for n in masks)
    dropped = torch.cat([scores[n][masks[n] & ~glob[n]] for n in masks])
    kept = torch.cat([scores[n][glob[n]] for n in masks])
    assert dropped.max() <= kept.min()


def test_magnitude_pruning_is_masks_from_scores_on_magnitudes():
    g = torch.Generator().manual_seed(1)
    shapes = {"a": (37, 11), "b": (101,), "c": (3, 5, 7), "d": (2,)}
    params = {n: torch.randint(-3, 4, s, generator=g).float() for n, s in shapes.items()}  # many ties
    masks = {n: torch.rand(s, generator=g) < 0.8 for n, s in shapes.items()}
    for scope in ("local", "global"):
        for fraction in (0.2, 0.4):
            mag = magnitude_prune(params, masks, fraction, scope)
            by_scores = masks_from_scores({n: p.abs() for n, p in params.items()}, masks, scope,
                                          prune_fraction=fraction)
            assert all(torch.equal(mag[n], by_scores[n]) for n in masks), (scope, fraction)
    assert all(s.dtype == torch.float64 and torch.equal(s, params[n].abs().double())
               for n, s in magnitudes(params, masks).items())
    with pytest.raises(ValueError, match="finite"):
        magnitude_prune({**params, "d": torch.tensor([1.0, float("inf")])}, masks, 0.2)


def test_every_pruner_goes_through_masks_from_scores():
    from lthlib.nets import early_bird, masks, scores
    assert scores.masks_from_scores is masks.masks_from_scores
    assert early_bird.masks_from_scores is masks.masks_from_scores
    assert not any(hasattr(scores, f) for f in ("_keep_highest", "_n_keep"))
    assert not any(hasattr(masks, f) for f in ("_prune_smallest", "_keep_highest"))


def test_masks_from_scores_checks_its_arguments():
    scores, masks = {"w": torch.arange(4.0)}, {"w": torch.ones(4, dtype=torch.bool)}
    with pytest.raises(ValueError, match="exactly one"):
        masks_from_scores(scores, masks)
    with pytest.raises(ValueError, match="exactly one"):
        masks_from_scores(scores, masks, remaining=0.5, prune_fraction=0.5)
    with pytest.raises(ValueError, match="remaining"):
        masks_from_scores(scores, masks, remaining=1.5)
    with pytest.raises(ValueError, match="fraction"):
        masks_from_scores(scores, masks, prune_fraction=1.0)
    with pytest.raises(ValueError, match="scope"):
        masks_from_scores(scores, masks, "layer", remaining=0.5)
    with pytest.raises(ValueError, match="shape"):
        masks_from_scores({"w": torch.arange(4.0).reshape(2, 2)}, masks, remaining=0.5)


def test_random_masks_keep_per_tensor_counts_and_differ():
    model = _model("cnn")
    masks = full_masks(model, prunable_names(model, PruneConfig()))
    params = dict(model.named_parameters())
    for _ in range(2):
        masks = magnitude_prune({n: p.detach() for n, p in params.items()}, masks, 0.2, "local")
    r1, r2 = random_masks_like(masks, seed=1), random_masks_like(masks, seed=1)
    r3 = random_masks_like(masks, seed=2)
    for n in masks:
        assert int(r1[n].sum()) == int(masks[n].sum()) and r1[n].shape == masks[n].shape
        assert torch.equal(r1[n], r2[n])
    assert any(not torch.equal(r1[n], masks[n]) for n in masks)
    assert any(not torch.equal(r1[n], r3[n]) for n in masks)
    assert jaccard(masks, masks) == 1.0 and jaccard(r1, masks) < 1.0


def test_apply_masks_zeroes_pruned_weights_in_place_keeping_tensors():
    model = _model("lstm")
    names = prunable_names(model, PruneConfig())
    params = dict(model.named_parameters())
    masks = random_masks_like(full_masks(model, names), seed=0)
    g = torch.Generator().manual_seed(0)
    masks = {n: torch.rand(m.shape, generator=g) < 0.5 for n, m in masks.items()}
    for mask in masks.values():  # a one-weight tensor (the binary head's bias) keeps it: checked below
        mask.view(-1)[0] = True
    ids = {n: params[n].data_ptr() for n in names}
    applier = apply_masks(model, masks)
    assert isinstance(applier, MaskApplier)
    for n in names:
        assert params[n].data_ptr() == ids[n]
        assert torch.count_nonzero(params[n][~masks[n]]) == 0
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    applier()
    for n in names:
        assert torch.count_nonzero(params[n][~masks[n]]) == 0
        assert (params[n][masks[n]] != 0).any()
    # the LSTM still runs (cuDNN/flat weights untouched) after masking
    model(torch.randint(2, 40, (3, 5)), torch.tensor([5, 2, 4]))


def test_summaries():
    masks = {"a": torch.tensor([True, False, True, True]), "b": torch.zeros(4, dtype=torch.bool)}
    assert n_nonzero(masks) == 3 and remaining_fraction(masks) == pytest.approx(3 / 8)
    table = layer_table(masks)
    assert table == [{"tensor": "a", "size": 4, "remaining": 0.75},
                     {"tensor": "b", "size": 4, "remaining": 0.0}]
    other = {"a": torch.tensor([True, True, False, True]), "b": torch.zeros(4, dtype=torch.bool)}
    assert jaccard(masks, other) == pytest.approx(2 / 4)
