"""The report's labels: datasets, models and arms named from their registries and under their split
protocol, the comparisons (the ticket and a family), and no report module spelling out a name."""
from __future__ import annotations

import ast
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from lthlib.data.datasets import DATASETS  # noqa: E402
from lthlib.experiment import arms  # noqa: E402
from lthlib.experiment.arms import ARMS, TICKET, families  # noqa: E402
from lthlib.nets.models import MODELS  # noqa: E402
from lthlib.report import figures, labels, narrative, tables  # noqa: E402

from report_runs import DENSE, RANDOM_REINIT, make_runs, same  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------------------------
# Labels: registry names, protocols
# --------------------------------------------------------------------------------------------

def test_labels_come_from_the_registries_and_name_the_protocol():
    assert labels.dataset_label("imdb") == DATASETS.get("imdb").display
    resplit = labels.dataset_label("ag_news", "test_resplit")
    assert resplit == DATASETS.get("ag_news").display_name("test_resplit") and "re-split" in resplit
    pair = labels.pair_label("ag_news", "lstm", {"ag_news": "test_resplit"})
    assert pair == f"{resplit} {MODELS.get('lstm').display}"
    assert labels.dataset_label("not_registered") == "not_registered"
    assert labels.arm_label(TICKET) == ARMS.get(TICKET).display
    assert labels.arm_color(TICKET) == ARMS.get(TICKET).color


def test_comparisons_are_the_ticket_and_a_family():
    assert arms.comparison() == (TICKET,)
    assert arms.comparison("control") == (TICKET, *[a for a in families("control") if a != TICKET])
    assert arms.comparison("rewind")[1:] == families("rewind")
    assert set(arms.comparison("all")) == {a.name for a in ARMS if not a.transfers}
    assert [ARMS.get(a).is_trunk for a in arms.all_arms()] == sorted(
        (ARMS.get(a).is_trunk for a in arms.all_arms()), reverse=True)


def test_results_are_labelled_under_their_protocol():
    runs = make_runs({TICKET: {1: same(0.8)}, RANDOM_REINIT: {1: same(0.7)}}, DENSE, dataset="ag_news",
                     model="lstm", protocol="test_resplit")
    shown = labels.dataset_label("ag_news", "test_resplit")
    protocols = {"ag_news": "test_resplit"}
    assert shown in narrative.describe_comparison(runs, TICKET, RANDOM_REINIT)  # from the runs' column
    assert shown in narrative.describe_dense(tables.dense_table(runs), protocols)
    assert shown in narrative.describe_matches(tables.sound_view(runs), protocols=protocols)
    fig = figures.plot_accuracy_vs_remaining(runs)
    assert fig.axes[0].get_title().startswith(shown)
    status = pd.DataFrame([{"dataset": "ag_news", "model": "lstm", "arm": TICKET, "seed": 0,
                            "status": "skipped", "reason": "data unavailable"}])
    assert f"{shown} did not run" in narrative.describe_status(status, protocols)


def test_no_report_module_spells_out_a_registered_name():
    """Datasets, models and arms are looked up in their registries, never written out."""
    names = set(DATASETS.names()) | set(MODELS.names()) | set(ARMS.names())
    modules = sorted((ROOT / "lthlib" / "report").glob("*.py")) + [ROOT / "lthlib" / "experiment" / "grid.py"]
    assert len(modules) > 10
    for module in modules:
        tree = ast.parse(module.read_text())
        spelled = {node.value for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and isinstance(node.value, str)} & names
        assert not spelled, f"{module.relative_to(ROOT)} spells out {sorted(spelled)}"
