"""Early-bird mask distance on constructed masks, the stopping rule and the search on
constructed runs."""
import math

import pytest
import torch

from lthlib.nets.early_bird import EarlyBirdTracker, early_bird_search, mask_distance


def test_mask_distance_counts_differing_entries_over_all_tensors():
    a = {"w": torch.zeros(10, dtype=torch.bool), "v": torch.ones(2, 5, dtype=torch.bool)}
    b = {"w": a["w"].clone(), "v": a["v"].clone()}
    assert mask_distance(a, b) == 0.0
    b["w"][[1, 4]] = True
    b["v"][1, 3] = False
    assert mask_distance(a, b) == pytest.approx(3 / 20)
    assert mask_distance(a, {n: ~m for n, m in a.items()}) == 1.0
    with pytest.raises(ValueError, match="different tensors"):
        mask_distance(a, {"w": a["w"]})
    with pytest.raises(ValueError, match="shapes"):
        mask_distance(a, {"w": a["w"], "v": a["v"].reshape(10)})


def params_keeping(kept: list[int], n: int = 10) -> dict[str, torch.Tensor]:
    """Weights whose top-half magnitudes sit exactly at ``kept`` (signs mixed, as real weights)."""
    w = torch.full((n,), 0.1)
    w[kept] = 1.0
    w[::2] *= -1
    return {"w": w}


TEMPLATE = {"w": torch.ones(10, dtype=torch.bool)}
A = [0, 1, 2, 3, 4]
A_SWAP = [0, 1, 2, 3, 5]       # one kept entry moved: distance 2/10 from A
B = [5, 6, 7, 8, 9]            # the complement of A: distance 1


def run(sequence: list[list[int]], **kw) -> EarlyBirdTracker:
    tracker = EarlyBirdTracker(0.5, "global", **kw)
    for kept in sequence:
        tracker.update(params_keeping(kept), TEMPLATE)
    return tracker


def test_the_mask_is_the_magnitude_mask_at_the_target():
    tracker = EarlyBirdTracker(0.5, "global")
    mask = tracker.magnitude_mask(params_keeping(A_SWAP), TEMPLATE)
    assert torch.nonzero(mask["w"]).flatten().tolist() == A_SWAP


def test_stopping_rule_uses_the_max_distance_over_the_window():
    # window 3: the newest mask against the two before it, found once neither is > epsilon
    tracker = run([B, A, A_SWAP, A, A, B, A], epsilon=0.2, window=3)
    assert [d["step"] for d in tracker.distances] == [2, 3, 4, 5, 6, 7]
    assert [d["distance"] for d in tracker.distances] == pytest.approx([1.0, 0.2, 0.2, 0.0, 1.0, 1.0])
    window_max = [d["window_max"] for d in tracker.distances]
    assert math.isnan(window_max[0])
    assert window_max[1:] == pytest.approx([0.8, 0.2, 0.2, 1.0, 1.0])  # step 3: A_SWAP vs B is 0.8
    assert tracker.found and tracker.found_at == 4             # max(0.2, 0.2) <= 0.2: found
    assert torch.nonzero(tracker.mask["w"]).flatten().tolist() == A
    stricter = run([B, A, A_SWAP, A, A, B, A], epsilon=0.1, window=3)
    assert stricter.found_at is None and stricter.mask is None


def test_a_settled_mask_is_found_only_once_the_window_is_full():
    tracker = run([A] * 7, window=5)
    assert tracker.found_at == 5
    assert all(d["distance"] == 0.0 for d in tracker.distances)
    assert not run([A] * 4, window=5).found


def test_steps_can_be_named_and_scope_matters():
    tracker = EarlyBirdTracker(0.5, "local", window=2)
    params = {"big": torch.tensor([10.0, 20.0, 30.0, 40.0]), "small": torch.tensor([1.0, 2.0, 3.0, 4.0])}
    template = {n: torch.ones(4, dtype=torch.bool) for n in params}
    for step in (100, 200):
        tracker.update(params, template, step=step)
    assert tracker.found_at == 200 and tracker.distances == [{"step": 200, "distance": 0.0, "window_max": 0.0}]
    assert [int(m.sum()) for m in tracker.mask.values()] == [2, 2]
    glob = EarlyBirdTracker(0.5, "global").magnitude_mask(params, template)
    assert glob["big"].all() and not glob["small"].any()


def test_the_search_returns_the_found_mask_or_the_last_and_what_it_cost():
    epochs = [(e, params_keeping(kept)) for e, kept in enumerate([B, A, A_SWAP, A, A, B, A], start=1)]
    mask, search = early_bird_search(epochs, TEMPLATE, 0.5, "global", epsilon=0.2, window=3)
    assert torch.nonzero(mask["w"]).flatten().tolist() == A
    assert list(search) == ["mask_search_epochs", "early_bird_found", "early_bird_epoch", "mask_distance"]
    assert search["mask_search_epochs"] == 4.0 and search["early_bird_found"] and search["early_bird_epoch"] == 4
    assert [row["step"] for row in search["mask_distance"]] == [2, 3, 4, 5, 6, 7]
    assert all(row["target_remaining"] == 0.5 for row in search["mask_distance"])
    mask, search = early_bird_search(epochs, TEMPLATE, 0.5, "global", epsilon=0.1, window=3)
    assert torch.nonzero(mask["w"]).flatten().tolist() == A          # never settled: the last epoch's
    assert search["mask_search_epochs"] == 7.0 and not search["early_bird_found"]
    assert math.isnan(search["early_bird_epoch"])
    with pytest.raises(ValueError, match="at least one dense epoch"):
        early_bird_search([], TEMPLATE, 0.5, "global")
