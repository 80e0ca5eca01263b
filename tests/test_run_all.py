"""End to end: ``./run_all.sh --profile smoke`` builds the whole report in a copy of the repository
(smoke_report.py), touching nothing in the working tree.

The whole report is conftest.py's session render, shared with test_toy_dataset.py: every notebook
on the smoke profile's models and seeds, with the toy dataset as its one dataset.  That leaves
notebook 07 without a transfer pair (the profile's pairs are of synthetic datasets), so 07 alone
is rendered once more here, with the profile's own datasets and pairs.
"""
from __future__ import annotations

import pytest

from smoke_report import ROOT, Render, errors, render_smoke_report

NOTEBOOKS = ["00_data_prep", "01_baselines", "02_random_pruning", "03_winning_tickets",
             "04_late_rewinding", "05_analysis", "06_tickets_without_the_full_price"]
FIGURES = ["accuracy_controls", "accuracy_rewinding", "early_stopping", "layer_remaining",
           "mask_overlap", "dense_training_curves", "data_lengths", "accuracy_cheap_tickets", "ticket_price",
           "early_bird_distance"]
TABLES = ["study_view", "sound_view", "dense_accuracy", "missing_cells", "accuracy_by_level",
          "paired_winning_ticket_vs_random_reinit", "paired_winning_ticket_vs_random_pruning",
          "mask_overlap", "model_summary", "parameter_totals", "ticket_price", "early_bird_timing", "critical_sparsity",
          "layer_collapse", "paired_winning_ticket_vs_synflow"]
TRANSFER_NOTEBOOK = "07_tickets_across_datasets"


@pytest.fixture(scope="module")
def transfer_report(tmp_path_factory) -> Render:
    """``./run_all.sh --profile smoke --only 07``: the transfer study on the profile's pairs."""
    return render_smoke_report(tmp_path_factory.mktemp("transfer_report"), ["--only", "07"])


def nothing_leaked(render: Render) -> None:
    """Nothing written into the working tree's results, figures or reports."""
    for leak in (ROOT / "results" / "smoke" / "tables" / "missing_cells.csv",
                 ROOT / "figures" / "smoke" / "mask_overlap.png",
                 ROOT / "reports" / "smoke" / "05_analysis.ipynb",
                 ROOT / "reports" / "smoke" / f"{TRANSFER_NOTEBOOK}.ipynb"):
        assert not leak.exists() or leak.stat().st_mtime < render.started, f"wrote {leak}"


@pytest.mark.slow
def test_run_all_smoke_builds_the_whole_report(smoke_report):
    assert smoke_report.proc.returncode == 0, smoke_report.proc.stderr[-3000:]
    expected = [n for n in NOTEBOOKS if (smoke_report.repo / "notebooks" / f"{n}.ipynb").exists()]
    assert expected[1:] == NOTEBOOKS[1:], "notebooks 01-06 must all exist"
    for name in expected:
        executed = smoke_report.reports / f"{name}.ipynb"
        assert executed.exists(), f"{name} was not executed"
        assert not errors(executed), f"{name}: {errors(executed)}"
        assert (smoke_report.reports / f"{name}.html").stat().st_size > 10_000, f"{name}.html missing"
    for name in FIGURES:
        assert (smoke_report.figures / f"{name}.png").stat().st_size > 1000, name
    for name in TABLES:
        assert (smoke_report.tables / f"{name}.csv").exists() and (smoke_report.tables / f"{name}.md").exists(), name
    nothing_leaked(smoke_report)
    # its time (target: 3 min on a 2-core CPU) is printed by the render, not asserted


@pytest.mark.slow
def test_run_all_smoke_renders_the_transfer_study_on_the_profiles_pairs(transfer_report):
    assert transfer_report.proc.returncode == 0, transfer_report.proc.stderr[-3000:]
    executed = transfer_report.reports / f"{TRANSFER_NOTEBOOK}.ipynb"
    assert executed.exists() and not errors(executed), f"{TRANSFER_NOTEBOOK}: {errors(executed)}"
    assert (transfer_report.reports / f"{TRANSFER_NOTEBOOK}.html").stat().st_size > 10_000
    assert sorted(p.stem for p in transfer_report.reports.glob("*.ipynb")) == [TRANSFER_NOTEBOOK]
    assert (transfer_report.figures / "accuracy_transfer.png").stat().st_size > 1000
    for name in ("transfer_paired_differences", "transfer_verdicts"):
        assert (transfer_report.tables / f"{name}.csv").exists(), name
    nothing_leaked(transfer_report)
