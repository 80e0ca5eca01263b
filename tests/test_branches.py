"""The strategies an arm composes (lthlib.experiment.branches): each keeps its promise, on a
hand-made context (no data prepared, nothing trained), and the runner names no arm."""
import ast
import functools
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from lthlib.core.config import NotApplicable, derive_seed
from lthlib.experiment import profiles
from lthlib.experiment import runner as lottery
from lthlib.experiment.arms import ARMS
from lthlib.experiment.branches.context import Context
from lthlib.experiment.branches.mask_sources import (
    EarlyMagnitude,
    OwnTrunk,
    RandomMask,
    ScoreMask,
    TransferredMask,
    TransferredRandomMask,
    TrunkMask,
)
from lthlib.experiment.branches.starts import DenseFinal, FreshInit, Theta0, ThetaK, Trained, TrunkTheta0
from lthlib.experiment.level import masked
from lthlib.machine.files import cpu_state
from lthlib.nets.masks import remaining_fraction

CFG = profiles.experiment("smoke", "synthetic", "cnn", "winning_ticket", 0)
VOCAB = [f"w{i}" for i in range(40)]
SEEN = torch.arange(2, 25)  # the words the trunk's training split holds


def data(n_classes: int = 2) -> SimpleNamespace:
    return SimpleNamespace(vocab=VOCAB, n_classes=n_classes, train=SimpleNamespace(tokens=SEEN.reshape(1, -1)))


def state(seed: int, n_classes: int = 2) -> dict[str, torch.Tensor]:
    return cpu_state(lottery.new_network(CFG, data(n_classes), seed))


def shuffled(masks: dict, keep: float, seed: int) -> dict:
    """``keep`` of each tensor's survivors, at random."""
    g = torch.Generator().manual_seed(seed)
    return {n: m & (torch.rand(m.shape, generator=g) < keep) for n, m in masks.items()}


def context(level: int = 1, n_classes: int = 2, trunk: Context | None = None, **given) -> Context:
    """A context of the smoke CNN whose weights are fixed draws: θ0 (seed 10), θk (11), the
    dense end (12), its level-L trained weights (20 + L); its level-L mask keeps 0.8 ** L."""
    world = data(n_classes)
    shapes = lottery.new_network(CFG, world, 0)
    full = {n: torch.ones_like(p, dtype=torch.bool) for n, p in shapes.named_parameters()}
    masks = [full]
    for lvl in range(1, 4):
        masks.append(shuffled(masks[-1], 0.8, seed=lvl + 100 * n_classes))
    parts = dict(theta0=lambda: state(10, n_classes), theta_k=lambda: state(11, n_classes),
                 dense_final=lambda: state(12, n_classes), dense_epochs=lambda: [],
                 mask_at=lambda lvl: masks[lvl], trained_at=lambda lvl: state(20 + lvl, n_classes),
                 search_epochs=lambda lvl: 3.0 * lvl)
    return Context(CFG, level, world, shapes, lambda: lottery.new_network(CFG, world, 0),
                   functools.partial(lottery.new_network, CFG, world), **{**parts, **given}, trunk=trunk)


def branch(level: int = 1, **given) -> Context:
    return context(level, trunk=context(level), **given)


def counts(masks: dict) -> dict[str, int]:
    return {n: int(m.sum()) for n, m in masks.items()}


# ---------------------------------------------------------------------------------------------
# Starts: where the survivors start
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("start, expected", [
    (Theta0(), lambda c: c.theta0()), (ThetaK(), lambda c: c.theta_k()),
    (DenseFinal(), lambda c: c.dense_final()), (Trained(), lambda c: c.trained_at(c.level - 1)),
])
def test_a_start_gives_its_weights_survivors_exactly(start, expected):
    ctx = context(level=2)
    mask = ctx.mask_at(2)
    begun, wanted = masked(start.weights(ctx), mask), expected(ctx)
    for name, keep in mask.items():
        assert torch.equal(begun[name][keep], wanted[name][keep]) and not begun[name][~keep].any(), name


def test_a_fresh_init_shares_no_nonzero_weight_with_theta0_and_is_drawn_per_level():
    ctx = context(level=1)
    fresh, theta0 = FreshInit().weights(ctx), ctx.theta0()
    for name, value in fresh.items():
        assert not ((value == theta0[name]) & (value != 0)).any(), name
    again, next_level = FreshInit().weights(ctx), FreshInit().weights(context(level=2))
    assert all(torch.equal(fresh[n], again[n]) for n in fresh)
    assert not torch.equal(fresh["fc.weight"], next_level["fc.weight"])
    assert torch.equal(fresh["fc.weight"], state(derive_seed(CFG.seed, "reinit", 1))["fc.weight"])


def test_keeping_a_pretrained_embedding_is_refused_on_a_learned_one():
    assert CFG.model.embedding == "random"
    FreshInit().check("x", CFG)
    with pytest.raises(NotApplicable, match="embedding='glove'"):
        FreshInit(keep_pretrained=True).check("x", CFG)


def test_the_trunks_theta0_is_taken_wherever_the_shapes_agree():
    source_world = context(n_classes=3, theta0=lambda: state(13, 3))   # 3 classes: another head
    ctx = context(n_classes=2, trunk=source_world)
    start, own, source = TrunkTheta0().weights(ctx), ctx.theta0(), ctx.trunk.theta0()
    for name, value in start.items():
        taken = own[name] if name.startswith("fc.") else source[name]
        assert torch.equal(value, taken), name
    assert not torch.equal(own["convs.0.weight"], source["convs.0.weight"])


def test_a_start_that_reads_a_trunk_refuses_a_trunk():
    with pytest.raises(ValueError, match="trunk"):
        TrunkTheta0().weights(context())


# ---------------------------------------------------------------------------------------------
# Masks: which weights survive, and what finding them cost
# ---------------------------------------------------------------------------------------------

def test_imp_prunes_the_smallest_fifth_of_its_own_previous_survivors():
    ctx = context(level=2)
    masks, search = OwnTrunk().find(ctx)
    before, trained = ctx.mask_at(1), ctx.trained_at(1)
    for name, keep in masks.items():
        assert not (keep & ~before[name]).any(), name                      # only survivors survive
        assert int(keep.sum()) == pytest.approx(0.8 * int(before[name].sum()), abs=1), name
        size = trained[name].abs()
        dropped = size[before[name] & ~keep]
        if dropped.numel():
            assert size[keep].min() >= dropped.max(), name
    assert search == {"mask_search_epochs": ctx.search_epochs(2)}


def test_a_trunks_mask_is_taken_as_it_is_at_the_trunks_price():
    ctx = branch(level=2)
    masks, search = TrunkMask().find(ctx)
    assert all(torch.equal(masks[n], m) for n, m in ctx.trunk.mask_at(2).items())
    assert search == {"mask_search_epochs": ctx.trunk.search_epochs(2)}


def test_a_random_mask_keeps_the_trunk_masks_per_tensor_counts_and_is_seeded_per_level():
    ctx = branch(level=2)
    masks, search = RandomMask().find(ctx)
    ticket = ctx.trunk.mask_at(2)
    assert counts(masks) == counts(ticket) and search == {"mask_search_epochs": 0.0}
    assert any(not torch.equal(masks[n], ticket[n]) for n in ticket)
    assert all(torch.equal(masks[n], m) for n, m in RandomMask().find(ctx)[0].items())
    other = RandomMask().find(branch(level=1, mask_at=lambda lvl: ticket))[0]  # same counts, level 1's seed
    assert any(not torch.equal(masks[n], other[n]) for n in ticket)


@pytest.mark.parametrize("strategy", [ScoreMask("synflow"), EarlyMagnitude()])
def test_a_mask_found_from_theta0_or_the_dense_run_has_the_trunks_sparsity(strategy):
    dense_run = [(epoch, state(12)) for epoch in (1, 2, 3)]   # weights that never move: settled at once
    ctx = branch(level=2, dense_epochs=lambda: dense_run)
    masks, search = strategy.find(ctx)
    ticket = ctx.trunk.mask_at(2)
    assert sum(counts(masks).values()) == pytest.approx(sum(counts(ticket).values()), abs=len(ticket))
    assert remaining_fraction(masks) == pytest.approx(0.64, abs=0.01)
    assert search["mask_search_seconds"] >= 0
    assert search["mask_search_epochs"] == (0.0 if strategy.name.startswith("score:") else 2.0)


def test_a_transferred_mask_is_the_sources_but_for_the_rows_of_words_it_never_saw():
    ctx = context(level=2, trunk=context(level=2, n_classes=2))
    masks, search = TransferredMask().find(ctx)
    source = ctx.trunk.mask_at(2)
    unseen = torch.ones(len(VOCAB), dtype=torch.bool)
    unseen[SEEN] = False
    assert torch.equal(masks["embedding.weight"][~unseen], source["embedding.weight"][~unseen])
    assert not torch.equal(masks["embedding.weight"][unseen], source["embedding.weight"][unseen])
    assert all(torch.equal(masks[n], m) for n, m in source.items() if n != "embedding.weight")
    assert search == {"mask_search_epochs": 0.0}
    shuffled_masks, _ = TransferredRandomMask().find(ctx)
    assert counts(shuffled_masks) == counts(masks) and not torch.equal(shuffled_masks["fc.weight"], masks["fc.weight"])


def test_a_mask_that_reads_a_trunk_refuses_a_trunk():
    with pytest.raises(ValueError, match="trunk"):
        TrunkMask().find(context())


# ---------------------------------------------------------------------------------------------
# The runner asks the strategies; it never names an arm
# ---------------------------------------------------------------------------------------------

ARM_WORDS = {a.name for a in ARMS} | {a.mask_from for a in ARMS} | {a.reset_to for a in ARMS}
ARM_ATTRIBUTES = {"mask_from", "reset_to", "is_trunk", "transfers", "prunes_own", "across_datasets", "family"}


@pytest.mark.parametrize("module", ["runner.py", "level.py"])
def test_the_runner_names_no_arm_and_tests_no_kind_of_arm(module):
    tree = ast.parse((Path(lottery.__file__).parent / module).read_text())
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    compared = {c.value for node in ast.walk(tree) if isinstance(node, ast.Compare)
                for c in ast.walk(node) if isinstance(c, ast.Constant)}
    attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not strings & {a.name for a in ARMS}, "an arm named"
    assert not compared & ARM_WORDS, "a mask or start kind tested"
    assert not attributes & ARM_ATTRIBUTES, "an arm's kind read"
    assert not any(isinstance(n, ast.Match) for n in ast.walk(tree))
