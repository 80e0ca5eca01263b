"""Notebook 07's tables: does a ticket found on one dataset work on another?

Each pair (source → target) and model is one panel of its own: its runs are the target's own
ticket and the three transferred arms of that source (:mod:`lthlib.experiment.transfer`), their
``dataset`` relabelled with the pair's name so that :mod:`lthlib.report.paired` and the figures
treat a pair as they treat a dataset.  Comparisons are paired by seed, at every level, with
:mod:`lthlib.report.paired`'s interval: Student's t over seeds (the unit of replication) with
the shared test set's sampling variance added (:mod:`lthlib.report.inference`):

- transferred ticket − the target's own ticket (non-inferiority, margin 1 point),
- transferred ticket − re-init of the transferred mask (> 0: does the source's θ0 matter?),
- transferred ticket − a random mask of its per-tensor counts from the same θ0 (> 0: the mask),
- transferred ticket − dense, and the own ticket − dense (exploratory).

**Primary family** (:data:`TRANSFER_FAMILY`), fixed before any result was read: per pair and
model, at the sparsest level where the transferred ticket matches the target's own ticket *on
validation* (95% lower bound of the paired difference ≥ −1 point; else the level nearest 13%
remaining), the three comparisons above, one-sided, Holm-adjusted over every pair and model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiment.arms import ARMS, TICKET
from . import stopping
from .labels import dataset_label, model_label
from .paired import (
    ALPHA,
    DENSE,
    MARGIN,
    MARGINS,
    VS_DENSE,
    ExampleOutcomes,
    Hypothesis,
    choose_level,
    compare,
    holm,
)
from .stats import PAIR
from .verdicts import claim_verdict, interval_verdict


def _transfer_arm(mask_from: str, reset_to: str) -> str:
    return next(a.name for a in ARMS if a.mask_from == mask_from and a.reset_to == reset_to)


#: the transfer arms, by what they are (the registry names them)
TRANSFERRED = _transfer_arm("source", "source_theta0")
MASK_REINIT = _transfer_arm("source", "fresh_init")
RANDOM_MASK = _transfer_arm("source_random", "source_theta0")
#: the legend's name for the winning ticket in a transfer figure
OWN_TICKET_NAME = "the target's own ticket (θ0)"
VS_OWN, VS_MASK_REINIT, VS_RANDOM_MASK = ("vs the target's own ticket", "vs re-init of the transferred mask",
                                          "vs a random mask, same θ0")
#: (comparison, arm, reference, bound in points)
TRANSFER_COMPARISONS = (
    (VS_OWN, TRANSFERRED, TICKET, -MARGIN),
    (VS_MASK_REINIT, TRANSFERRED, MASK_REINIT, 0.0),
    (VS_RANDOM_MASK, TRANSFERRED, RANDOM_MASK, 0.0),
    (VS_DENSE, TRANSFERRED, DENSE, -MARGIN),
    (VS_DENSE, TICKET, DENSE, -MARGIN),
)
TRANSFER_FAMILY = (
    Hypothesis("matches_own_ticket", VS_OWN, -MARGIN, f"transferred − own ticket > −{MARGIN:g} point"),
    Hypothesis("beats_mask_reinit", VS_MASK_REINIT, 0.0, "transferred − re-init of its mask > 0"),
    Hypothesis("beats_random_mask", VS_RANDOM_MASK, 0.0, "transferred − random mask > 0"),
)
TABLE_COLUMNS = ["source", "target", *PAIR, "comparison", "arm", "reference", "level", "remaining",
                 "remaining_without_embedding", "n_seeds", "n_examples", "diff", "ci_low", "ci_high", "t_low",
                 "t_high", "se_seeds", "se_test", "interval_source", "p", "bound", "p_one_sided", "family",
                 "hypothesis", "p_holm"]


def pair_name(source: str, target: str, protocols: dict | None = None) -> str:
    """'IMDb → SST-2': how a pair is named in every table and panel."""
    protocols = protocols or {}
    return f"{dataset_label(source, protocols.get(source))} → {dataset_label(target, protocols.get(target))}"


def by_pair(frame: pd.DataFrame, expected: pd.DataFrame, protocols: dict | None = None) -> pd.DataFrame:
    """``frame``'s rows (runs, predictions: anything with ``config_hash``) of each pair's cells,
    with ``dataset`` the pair's name, ``target`` the dataset and ``source`` the pair's source.
    A target's own ticket appears once per pair it is the target of."""
    if frame.empty or expected.empty:
        return frame.assign(source=pd.Series(dtype=str), target=pd.Series(dtype=str))
    parts = []
    for (source, target), cells in expected.groupby(["source", "dataset"], sort=False):
        rows = frame[frame["config_hash"].isin(set(cells["config_hash"]))]
        parts.append(rows.assign(source=source, target=rows["dataset"], dataset=pair_name(source, target, protocols)))
    return pd.concat(parts, ignore_index=True) if parts else frame.iloc[:0]


def cap_binding(runs: pd.DataFrame, trunks) -> pd.DataFrame:
    """Per arm, how often the epoch cap bound the runs of :func:`by_pair` (:func:`stopping.cap_binding
    <lthlib.report.stopping.cap_binding>`), each network once (a target's own ticket serves every
    pair it is the target of; a transferred arm's level 0 is a copy of a dense network's, counted
    with the target's own), under its target's training settings: ``trunks``, the transfer grid's
    trunk configurations."""
    once = runs[runs["target"].notna()].drop_duplicates(["config_hash", "level"])  # no pair: no rows
    once = once[(once["level"] > 0) | (once["arm"] == TICKET)]
    target_of = dict(zip(once["dataset"], once["target"]))
    settings = {(cfg.data.dataset, cfg.model.name): cfg for cfg in trunks}
    return stopping.cap_binding(once, lambda pair, model, arm, seed: settings[(target_of[pair], model)])


def transfer_differences(runs: pd.DataFrame, predictions: pd.DataFrame | None = None,
                         test_labels: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every comparison of :data:`TRANSFER_COMPARISONS` at every pruned level of each pair ×
    model (``runs`` and ``predictions`` from :func:`by_pair`), and the levels chosen on
    validation; the primary rows Holm-adjusted together."""
    chosen = choose_level(runs, arm=TRANSFERRED, reference=TICKET) if not runs.empty else pd.DataFrame()
    outcomes = ExampleOutcomes(predictions, test_labels)
    rows = []
    for _, pair_runs in runs.groupby(PAIR, sort=False):
        source, target = pair_runs["source"].iloc[0], pair_runs["target"].iloc[0]
        for comparison, arm, reference, bound in TRANSFER_COMPARISONS:
            levels = sorted(pair_runs.loc[(pair_runs["arm"] == arm) & (pair_runs["level"] >= 1), "level"].unique())
            for level in levels:
                row = compare(pair_runs, outcomes, arm, reference, int(level), bound)
                if row is None:
                    continue
                at = pair_runs[(pair_runs["arm"] == arm) & (pair_runs["level"] == level)]
                rows.append({"source": source, "target": target, "comparison": comparison, **row,
                             "remaining_without_embedding": _mean(at, "remaining_without_embedding")})
    table = pd.DataFrame(rows, columns=[c for c in TABLE_COLUMNS if c not in ("family", "hypothesis", "p_holm")])
    return _primary(table, chosen)[TABLE_COLUMNS], chosen


def _mean(rows: pd.DataFrame, column: str) -> float:
    return float(rows[column].mean()) if column in rows and rows[column].notna().any() else np.nan


def _primary(table: pd.DataFrame, chosen: pd.DataFrame) -> pd.DataFrame:
    table = table.assign(family="exploratory", hypothesis="", p_holm=np.nan)
    if chosen.empty:
        return table
    levels = {(r.dataset, r.model): r.level for r in chosen[chosen["margin"] == MARGIN].itertuples(index=False)}
    at = np.array([levels.get((d, m)) == lvl for d, m, lvl in zip(table["dataset"], table["model"], table["level"])],
                  dtype=bool)
    for hyp in TRANSFER_FAMILY:
        mask = (table["comparison"] == hyp.comparison) & (table["arm"] == TRANSFERRED) & at
        table.loc[mask, ["family", "hypothesis"]] = ["primary", hyp.text]
    primary = table["family"] == "primary"
    table.loc[primary, "p_holm"] = holm(table.loc[primary, "p_one_sided"])
    return table


def _row(table: pd.DataFrame, pair: str, model: str, comparison: str, level: int, arm: str = TRANSFERRED):
    hit = table[(table["dataset"] == pair) & (table["model"] == model) & (table["comparison"] == comparison)
                & (table["arm"] == arm) & (table["level"] == level)]
    return None if hit.empty else hit.iloc[0]


def _interval(row, column: str = "diff") -> tuple[float, float, float]:
    if row is None:
        return np.nan, np.nan, np.nan
    return float(row[column]), float(row["ci_low"]), float(row["ci_high"])


def verdict_table(table: pd.DataFrame, chosen: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per pair × model at its level chosen on validation: how sparse (with and without
    the embedding), the transferred ticket against its own ticket, its mask's re-init, a random
    mask and dense, each with its interval and verdict, the matching level under each margin,
    and the epochs of search the target did not spend."""
    rows = []
    for r in chosen[chosen["margin"] == MARGIN].itertuples(index=False) if not chosen.empty else []:
        pair_runs = runs[(runs["dataset"] == r.dataset) & (runs["model"] == r.model)]
        own = _row(table, r.dataset, r.model, VS_OWN, r.level)
        out = {"pair": r.dataset, "model": model_label(r.model), "source": pair_runs["source"].iloc[0],
               "target": pair_runs["target"].iloc[0], "level": r.level, "matched_on_validation": r.matched,
               "remaining_pct": 100 * r.remaining,
               "remaining_without_embedding_pct": 100 * _mean(
                   pair_runs[(pair_runs["arm"] == TRANSFERRED) & (pair_runs["level"] == r.level)],
                   "remaining_without_embedding")}
        diff, low, high = _interval(own)
        out.update(vs_own_ticket=diff, vs_own_ticket_low=low, vs_own_ticket_high=high,
                   vs_own_ticket_p_holm=np.nan if own is None else own["p_holm"],
                   matches_own_ticket=claim_verdict(low, high))
        for name, comparison in (("vs_mask_reinit", VS_MASK_REINIT), ("vs_random_mask", VS_RANDOM_MASK),
                                 ("vs_dense", VS_DENSE)):
            row = _row(table, r.dataset, r.model, comparison, r.level)
            diff, low, high = _interval(row)
            p_holm = np.nan if row is None else row["p_holm"]
            out.update({name: diff, f"{name}_low": low, f"{name}_high": high,
                        f"{name}_verdict": claim_verdict(low, high) if comparison == VS_DENSE
                        else interval_verdict(low, high, p_holm, diff)})
        of_pair = chosen[(chosen["dataset"] == r.dataset) & (chosen["model"] == r.model)]
        for margin in MARGINS:
            pick = of_pair[of_pair["margin"] == margin]
            matched = len(pick) and bool(pick["matched"].iloc[0])
            pct = 100 * float(pick["remaining"].iloc[0]) if matched else np.nan
            out[f"matching_remaining_pct_margin_{margin:g}"] = pct
        own_search = pair_runs[(pair_runs["arm"] == TICKET) & (pair_runs["level"] == r.level)]["mask_search_epochs"]
        out["search_epochs_avoided"] = float(own_search.mean()) if len(own_search) else np.nan
        rows.append(out)
    return pd.DataFrame(rows)


def _points(diff: float, low: float, high: float) -> str:
    return "no interval" if pd.isna(low) else f"{diff:+.2f} points [{low:+.2f}, {high:+.2f}]"


#: what notebook 07 shows of its tables (the CSVs keep every column)
SHOWN_DIFFERENCE_COLUMNS = ["dataset", "model", "comparison", "level", "remaining", "diff", "ci_low", "ci_high",
                            "p_holm", "family"]
SHOWN_VERDICT_COLUMNS = ["pair", "model", "remaining_pct", "remaining_without_embedding_pct",
                         "vs_own_ticket", "vs_own_ticket_low", "vs_own_ticket_high", "matches_own_ticket",
                         "vs_mask_reinit", "vs_mask_reinit_low", "vs_mask_reinit_high", "vs_mask_reinit_verdict",
                         "vs_random_mask", "vs_random_mask_low", "vs_random_mask_high", "vs_random_mask_verdict",
                         "search_epochs_avoided"]


def _tally(verdicts: pd.Series, words: tuple[str, ...]) -> str:
    counts = verdicts.value_counts()
    return ", ".join(f"{word} in {int(counts.get(word, 0))}" for word in words)


def headline(verdicts: pd.DataFrame) -> str:
    """Notebook 07's answer in two sentences: how the verdicts of :func:`verdict_table` fall."""
    if verdicts.empty:
        return "No transferred ticket has been trained yet: no answer."
    n = len(verdicts)
    return (f"Over {n} pair × model, at the level chosen on validation, the transferred ticket matches the "
            f"target's own ticket within {MARGIN:g} point: "
            f"{_tally(verdicts['matches_own_ticket'], ('holds', 'does not hold', 'not resolved at this scale'))}.  "
            f"Against the re-initialised transferred mask it "
            f"{_tally(verdicts['vs_mask_reinit_verdict'], ('beats', 'loses', 'not resolved at this scale'))}; "
            f"against a random mask from the same θ0 it "
            f"{_tally(verdicts['vs_random_mask_verdict'], ('beats', 'loses', 'not resolved at this scale'))} "
            f"(Holm over the primary family).")


def describe_answer(verdicts: pd.DataFrame) -> str:
    """The answer in sentences, one per pair × model, from :func:`verdict_table`."""
    if verdicts.empty:
        return "No transfer cell has been run yet."
    lines = []
    for r in verdicts.itertuples(index=False):
        where = (f"at {r.remaining_pct:.0f}% of the weights ({r.remaining_without_embedding_pct:.0f}% without the "
                 f"embedding), the sparsest level that matched its own ticket on validation" if r.matched_on_validation
                 else f"at {r.remaining_pct:.0f}% of the weights (no pruned level matched its own ticket on "
                      f"validation; the level nearest 13% is shown)")
        own = _points(r.vs_own_ticket, r.vs_own_ticket_low, r.vs_own_ticket_high)
        lines.append(
            f"- **{r.pair}, {r.model}** {where}: transferred − own ticket {own} "
            f"(matches within {MARGIN:g} point: {r.matches_own_ticket}); − re-init of its mask "
            f"{_points(r.vs_mask_reinit, r.vs_mask_reinit_low, r.vs_mask_reinit_high)} ({r.vs_mask_reinit_verdict}); "
            f"− random mask {_points(r.vs_random_mask, r.vs_random_mask_low, r.vs_random_mask_high)} "
            f"({r.vs_random_mask_verdict}); it saved {r.search_epochs_avoided:.0f} epochs of search on the target.")
    return "\n".join(lines)


def describe_family() -> str:
    lines = [f"Primary family (per pair × model, at the transferred ticket's level chosen on validation against "
             f"its own ticket with a {MARGIN:g} point margin; Holm over all of them, one-sided at {100 * ALPHA:g}%):"]
    lines += [f"- {h.text}" for h in TRANSFER_FAMILY]
    return "\n".join(lines)

