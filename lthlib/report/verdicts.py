"""Verdicts a reader can take away, per dataset × model, from the paired differences of
:mod:`lthlib.report.paired` (every comparison, every level, with intervals and Holm-adjusted
p-values for the primary family).  Every interval and p-value is Student's t over seeds, the
seed the unit of replication, with the shared test set's sampling variance added where
predictions are stored (:mod:`lthlib.report.inference`); one seed gives no interval and no
verdict ("one seed: no interval").

The procedure, chosen so that the test set only reports:

1. **Which level.**  The winning ticket's level is the sparsest pruned level whose paired
   **validation** difference from dense has its 95% lower bound ≥ −1 point (the margin,
   :data:`lthlib.report.paired.MARGIN`); when none qualifies, the level nearest 13% remaining
   is reported and the row says no pruned level matches.
2. **Matches dense.**  A paired non-inferiority rule: ticket − dense on test, at that level, is
   above −1 point, judged by the one-sided p-value after Holm's adjustment over the primary
   family (:data:`lthlib.report.paired.PRIMARY_FAMILY`).  The sensitivity line repeats the
   choice and the rule (the interval's lower bound, unadjusted) for margins 0.5, 1 and 2 points.
3. **Against the controls.**  At that level, ticket − random re-init (θ0 matters?) and ticket −
   random pruning (the mask matters?), primary: *beats* where the Holm-adjusted one-sided p is
   at most 2.5%; ticket − re-init with the pretrained embedding kept, exploratory: *beats* where
   its 95% interval lies above zero.  *Loses* where the interval lies below zero; otherwise
   **not resolved at this scale** (never "no effect").
4. **The study.**  Its claim — the ticket matches dense at the study's sparsity — read at the
   first level here at least that sparse: *holds* where ticket − dense has its 95% lower bound
   ≥ −1 point, *does not hold* where its upper bound is below −1 point, else *not resolved at
   this scale*.  The same for the study's table with late rewinding, read by the arm that
   reproduces it (:attr:`lthlib.experiment.arms.Arm.study_table`: dense rewinding).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiment.arms import ARMS, TICKET
from .labels import Protocols, arm_label, pair_label
from .paired import (
    ALPHA,
    MARGIN,
    MARGINS,
    REFERENCE_REMAINING,
    VS_DENSE,
    VS_KEPT,
    VS_RANDOM,
    VS_REINIT,
    at_level,
    choose_level,
    reference_of,
)
from .stats import PAIR, paired_difference
from .tables import study_arms, study_table

#: (column prefix, comparison, primary?) of the verdict table's comparisons of the winning ticket.
CONTROLS = (("vs_reinit", VS_REINIT, True), ("vs_reinit_kept", VS_KEPT, False), ("vs_random_pruning", VS_RANDOM, True))


def control_arms() -> tuple[str, ...]:
    """The random controls a ticket is judged against: the control branches (not trunks)."""
    return tuple(a.name for a in ARMS if a.family == "control" and not a.is_trunk)


def late_study_arm() -> str | None:
    """The arm that reproduces the study's table with late rewinding."""
    return next((a.name for a in ARMS if a.study_table and a.name != TICKET), None)


def _margin_name(margin: float) -> str:
    """'0_5pt' for 0.5 points: a column suffix that stays an attribute name."""
    return f"{margin:g}pt".replace(".", "_")


def verdict_columns() -> list[str]:
    sensitivity = [f"{what}_{_margin_name(m)}" for m in MARGINS for what in ("level", "sparsity", "matches")]
    controls = [f"{prefix}{s}" for prefix, _, primary in CONTROLS
                for s in ("", "_low", "_high", *(("_p_holm",) if primary else ()), "_verdict")]
    study = [f"{prefix}_{what}" for prefix in ("study", "late") for what in
             ("dense_acc", "ticket_acc", "sparsity", "level", "vs_dense", "vs_dense_low", "vs_dense_high", "claim")]
    return [*PAIR, "n_seeds", "interval_source", "margin", "matched_on_validation", "level", "remaining_pct",
            "sparsity_pct", "vs_dense", "vs_dense_low", "vs_dense_high", "vs_dense_p_holm", "matches_dense",
            *sensitivity, *controls, *study]


#: what the notebook shows of :func:`verdict_table` (the CSV has every column): each comparison's
#: difference with its interval (one column once shown), and its verdict
SHOWN_COLUMNS = [*PAIR, "remaining_pct", "vs_dense", "vs_dense_low", "vs_dense_high", "matches_dense",
                 *(f"{prefix}{s}" for prefix, _, _ in CONTROLS for s in ("", "_low", "_high", "_verdict"))]


def interval_verdict(low: float, high: float, p_holm: float = np.nan, diff: float = np.nan) -> str:
    """'beats' when the Holm-adjusted one-sided p is at most :data:`ALPHA` (primary) or, for an
    exploratory comparison, the 95% interval lies above zero; 'loses' when it lies below zero;
    else not resolved at this scale.  No interval: 'not run' where there is no difference
    either, else 'one seed: no interval'."""
    if pd.isna(low) or pd.isna(high):
        return "not run" if pd.isna(diff) else "one seed: no interval"
    if (p_holm <= ALPHA) if not pd.isna(p_holm) else low > 0:
        return "beats"
    if high < 0:
        return "loses"
    return "not resolved at this scale"


def claim_verdict(low: float, high: float, margin: float = MARGIN) -> str:
    if pd.isna(low) or pd.isna(high):
        return "no interval"
    if low >= -margin:
        return "holds"
    if high < -margin:
        return "does not hold"
    return "not resolved at this scale"


def _get(row, column: str) -> float:
    return np.nan if row is None else float(row[column])


def _study_level(paired: pd.DataFrame, dataset: str, model: str, arm: str, sparsity: float) -> int | None:
    """The first level of ``arm`` at least as sparse as ``sparsity`` (%); else its sparsest."""
    rows = paired[(paired["dataset"] == dataset) & (paired["model"] == model) & (paired["arm"] == arm)
                  & (paired["comparison"] == VS_DENSE)]
    if rows.empty or pd.isna(sparsity):
        return None
    reached = rows[100 * (1 - rows["remaining"]) >= sparsity - 1e-9]
    return int(reached["level"].min()) if len(reached) else int(rows["level"].max())


def _study_columns(paired: pd.DataFrame, dataset: str, model: str, arm: str | None, prefix: str) -> dict:
    study = study_table(arm) if arm else pd.DataFrame(columns=[*PAIR])
    study = study[(study["dataset"] == dataset) & (study["model"] == model)]
    out = {f"{prefix}_{what}": np.nan for what in ("dense_acc", "ticket_acc", "sparsity", "level", "vs_dense",
                                                     "vs_dense_low", "vs_dense_high")}
    out[f"{prefix}_claim"] = "the study gives no number here" if study.empty else "not run here"
    if study.empty:
        return out
    numbers = study.iloc[0]
    out.update({f"{prefix}_dense_acc": numbers["study_dense_acc"], f"{prefix}_ticket_acc": numbers["study_ticket_acc"],
                f"{prefix}_sparsity": numbers["study_ticket_sparsity"]})
    level = _study_level(paired, dataset, model, arm, numbers["study_ticket_sparsity"])
    row = None if level is None else at_level(paired, dataset, model, VS_DENSE, level, arm)
    if row is None:
        return out
    out.update({f"{prefix}_level": level, f"{prefix}_vs_dense": row["diff"], f"{prefix}_vs_dense_low": row["ci_low"],
                f"{prefix}_vs_dense_high": row["ci_high"]})
    claim = claim_verdict(row["ci_low"], row["ci_high"])
    sparsity = 100 * (1 - row["remaining"])
    if sparsity < numbers["study_ticket_sparsity"] - 1e-9:
        claim += f" (read at {sparsity:.1f}%: no level here is as sparse as the study's)"
    out[f"{prefix}_claim"] = claim
    return out


def _verdict_row(paired: pd.DataFrame, chosen: pd.DataFrame, dataset: str, model: str) -> dict | None:
    picks = chosen[(chosen["dataset"] == dataset) & (chosen["model"] == model)].set_index("margin")
    if MARGIN not in picks.index:
        return None
    pick = picks.loc[MARGIN]
    level = int(pick["level"])
    dense = at_level(paired, dataset, model, VS_DENSE, level)
    row = {"dataset": dataset, "model": model, "n_seeds": int(_get(dense, "n_seeds")) if dense is not None else 0,
           "interval_source": "" if dense is None else dense["interval_source"], "margin": MARGIN,
           "matched_on_validation": bool(pick["matched"]), "level": level,
           "remaining_pct": 100 * float(pick["remaining"]), "sparsity_pct": 100 * (1 - float(pick["remaining"])),
           "vs_dense": _get(dense, "diff"), "vs_dense_low": _get(dense, "ci_low"),
           "vs_dense_high": _get(dense, "ci_high"), "vs_dense_p_holm": _get(dense, "p_holm")}
    row["matches_dense"] = bool(pick["matched"]) and bool(row["vs_dense_p_holm"] <= ALPHA)
    for margin in MARGINS:
        at = picks.loc[margin]
        test = at_level(paired, dataset, model, VS_DENSE, int(at["level"]))
        name = _margin_name(margin)
        row.update({f"level_{name}": int(at["level"]), f"sparsity_{name}": 100 * (1 - float(at["remaining"])),
                    f"matches_{name}": bool(at["matched"]) and _get(test, "ci_low") >= -margin})
    for prefix, comparison, primary in CONTROLS:
        hit = at_level(paired, dataset, model, comparison, level)
        row.update({prefix: _get(hit, "diff"), f"{prefix}_low": _get(hit, "ci_low"),
                    f"{prefix}_high": _get(hit, "ci_high")})
        if primary:
            row[f"{prefix}_p_holm"] = _get(hit, "p_holm")
        row[f"{prefix}_verdict"] = interval_verdict(row[f"{prefix}_low"], row[f"{prefix}_high"],
                                                    row.get(f"{prefix}_p_holm", np.nan), row[prefix])
    row.update(_study_columns(paired, dataset, model, TICKET, "study"))
    row.update(_study_columns(paired, dataset, model, late_study_arm(), "late"))
    return row


def verdict_table(paired: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset × model: the module's procedure on ``paired``
    (:func:`lthlib.report.paired.paired_differences` of ``runs``).  Accuracies, sparsities and
    differences in % / points."""
    if runs.empty or paired.empty:
        return pd.DataFrame(columns=verdict_columns())
    chosen = choose_level(runs)
    rows = [_verdict_row(paired, chosen, d, m) for d, m in sorted(set(zip(chosen["dataset"], chosen["model"])))]
    return pd.DataFrame([r for r in rows if r is not None], columns=verdict_columns())


# ---------------------------------------------------------------------------------------------
# Sentences and the answer
# ---------------------------------------------------------------------------------------------

def _interval(mean: float, low: float, high: float) -> str:
    if pd.isna(mean):
        return "n/a"
    if pd.isna(low):
        return f"{mean:+.2f} points (no interval)"
    return f"{mean:+.2f} [{low:+.2f}, {high:+.2f}] points"


def _matches(row) -> str:
    where = f"{row.sparsity_pct:.1f}% sparsity (level {row.level}, {row.remaining_pct:.3g}% remaining)"
    diff = _interval(row.vs_dense, row.vs_dense_low, row.vs_dense_high)
    if not row.matched_on_validation:
        return (f"no pruned level matches dense on validation; at {where}, the level nearest 13% remaining "
                f"(where the study's tickets live), the ticket − dense is {diff}")
    verdict = "matches dense" if row.matches_dense else "is not shown to match dense"
    return (f"{verdict} at {where}, chosen on validation: ticket − dense {diff} on test "
            f"(Holm-adjusted one-sided p {row.vs_dense_p_holm:.3g} for a margin of {row.margin:g} point)")


def _sensitivity(row) -> str:
    parts = []
    for m in MARGINS:
        name = _margin_name(m)
        parts.append(f"{m:g} point: {'matches' if getattr(row, f'matches_{name}') else 'does not match'} "
                     f"at {getattr(row, f'sparsity_{name}'):.1f}%")
    return "margins " + "; ".join(parts)


def _control(row, prefix: str, comparison: str) -> str:
    verdict = getattr(row, f"{prefix}_verdict")
    reference = reference_of(comparison)
    name = arm_label(reference) if reference else comparison
    if verdict == "not run":
        return f"{name} did not run here"
    p = getattr(row, f"{prefix}_p_holm", np.nan)
    extra = f", Holm p {p:.3g}" if not pd.isna(p) else ", exploratory"
    diff = _interval(getattr(row, prefix), getattr(row, f"{prefix}_low"), getattr(row, f"{prefix}_high"))
    if verdict == "beats":
        return f"beats {name} ({diff}{extra})"
    if verdict == "loses":
        return f"loses to {name} ({diff}{extra})"
    return f"against {name} is {verdict} ({diff}{extra})"


def _study(row, prefix: str, arm: str | None) -> str:
    claim = getattr(row, f"{prefix}_claim")
    if pd.isna(getattr(row, f"{prefix}_sparsity")) or arm is None:
        return ""
    value = {what: getattr(row, f"{prefix}_{what}") for what in
             ("ticket_acc", "sparsity", "dense_acc", "vs_dense", "vs_dense_low", "vs_dense_high")}
    here = _interval(value["vs_dense"], value["vs_dense_low"], value["vs_dense_high"])
    return (f"The study's {arm_label(arm)}: {value['ticket_acc']:.2f}% at {value['sparsity']:.1f}% sparsity "
            f"(dense {value['dense_acc']:.2f}%); here {here} against dense; its claim: {claim}.")


def describe_verdict(row, protocols: Protocols | None = None) -> str:
    """One sentence block per verdict row (see :func:`verdict_table`)."""
    controls = " and ".join(_control(row, prefix, comparison) for prefix, comparison, _ in CONTROLS
                            if prefix != "vs_reinit_kept" or row.vs_reinit_kept_verdict != "not run")
    studies = " ".join(s for s in (_study(row, "study", TICKET), _study(row, "late", late_study_arm())) if s)
    return (f"{pair_label(row.dataset, row.model, protocols)}, {arm_label(TICKET)} (n={row.n_seeds} seeds, "
            f"{row.interval_source}): {_matches(row)}; {_sensitivity(row)}. There it {controls}. {studies}").strip()


def describe_verdicts(table: pd.DataFrame, protocols: Protocols | None = None) -> str:
    if table.empty:
        return "No pruned results yet."
    return "\n".join(describe_verdict(row, protocols) for row in table.itertuples(index=False))


ANSWER_COLUMNS = ["dataset × model", "matches dense?", "θ0 matters? (vs full re-init)",
                  "θ0 matters? (vs re-init, embedding kept)", "mask matters? (vs random pruning)",
                  "study's claim", "study's late-rewinding claim"]


def _yes_no(verdict: str, yes: str, no: str) -> str:
    return {"beats": yes, "loses": no}.get(verdict, verdict)


def answer_table(table: pd.DataFrame, protocols: Protocols | None = None) -> pd.DataFrame:
    """The closing summary, one row per dataset × model, from :func:`verdict_table`."""
    rows = []
    for row in table.itertuples(index=False):
        match = (f"yes, to {row.sparsity_pct:.1f}% sparsity" if row.matches_dense
                 else "no pruned level (validation)" if not row.matched_on_validation
                 else f"not shown at {row.sparsity_pct:.1f}%")
        rows.append({
            "dataset × model": pair_label(row.dataset, row.model, protocols),
            "matches dense?": f"{match}: {_interval(row.vs_dense, row.vs_dense_low, row.vs_dense_high)}",
            "θ0 matters? (vs full re-init)": _yes_no(row.vs_reinit_verdict, "yes: ticket better",
                                                     "no: re-init better"),
            "θ0 matters? (vs re-init, embedding kept)": _yes_no(row.vs_reinit_kept_verdict, "yes: ticket better",
                                                                "no: re-init better"),
            "mask matters? (vs random pruning)": _yes_no(row.vs_random_pruning_verdict, "yes: ticket better",
                                                         "no: random pruning better"),
            "study's claim": row.study_claim, "study's late-rewinding claim": row.late_claim})
    return pd.DataFrame(rows, columns=ANSWER_COLUMNS)


def describe_answer(table: pd.DataFrame, protocols: Protocols | None = None) -> str:
    """A short answer per dataset × model: does the ticket match dense and where, does θ0 matter,
    does the mask matter, and how the study's claim fares."""
    if table.empty:
        return "No pruned results yet: no answer."
    lines = []
    for row in table.itertuples(index=False):
        if row.matches_dense:
            match = (f"the winning ticket matches dense (within {row.margin:g} point) up to "
                     f"{row.sparsity_pct:.1f}% sparsity")
        elif row.matched_on_validation:
            match = (f"the winning ticket matches dense on validation up to {row.sparsity_pct:.1f}% sparsity, "
                     "but the test set does not confirm it after Holm's adjustment")
        else:
            match = "no pruned winning ticket matches dense on validation"
        theta0 = {"beats": "θ0 matters (it beats a full re-init of its mask)",
                  "loses": "θ0 does not help (a full re-init of its mask does better)"}.get(
            row.vs_reinit_verdict, f"whether θ0 matters is {row.vs_reinit_verdict} against a full re-init")
        if row.vs_reinit_kept_verdict != "not run":
            kept = {"beats": "wins", "loses": "loses"}.get(row.vs_reinit_kept_verdict,
                                                            f"is {row.vs_reinit_kept_verdict}")
            theta0 += f"; against a re-init that keeps the embedding it {kept}"
        mask = {"beats": "the mask matters (it beats random pruning)",
                "loses": "random pruning does better"}.get(
            row.vs_random_pruning_verdict, f"whether the mask matters is {row.vs_random_pruning_verdict}")
        lines.append(f"{pair_label(row.dataset, row.model, protocols)}: {match}; {theta0}; {mask}. "
                     f"The study's claim at this scale: {row.study_claim}; with late rewinding: {row.late_claim}.")
    return "\n".join(lines)


def describe_differences(table: pd.DataFrame, protocols: Protocols | None = None) -> str:
    """Per dataset × model: where the intervals come from, and per comparison of two arms how
    many pruned levels have their 95% interval above and below zero."""
    if table.empty:
        return "No pruned levels to compare yet."
    lines = []
    for (dataset, model), g in table.groupby(PAIR, sort=True):
        sources = ", ".join(f"{n} rows {source}" for source, n in g["interval_source"].value_counts().items())
        parts = []
        for (comparison, arm, reference), c in g.groupby(["comparison", "arm", "reference"], sort=False):
            if comparison == VS_DENSE and arm != TICKET:
                continue
            parts.append(f"{arm_label(arm)} − {arm_label(reference)}: above zero at {int((c['ci_low'] > 0).sum())}, "
                         f"below at {int((c['ci_high'] < 0).sum())} of {len(c)} levels")
        lines.append(f"{pair_label(dataset, model, protocols)} ({sources}): " + "; ".join(parts) + ".")
    return "\n".join(lines)


def reference_intervals(runs: pd.DataFrame, arm: str | None = None,
                        control: str | None = None) -> pd.DataFrame:
    """The paired ``arm`` − ``control`` test difference (default: winning ticket − random
    re-init) at each dataset × model's level nearest 13% remaining: the report's precision
    check (a 95% half-width of 2.5 points or less)."""
    arm = arm or study_arms()[0][0]
    control = control or control_arms()[0]
    diffs = paired_difference(runs, arm, control)
    if diffs.empty:
        return diffs
    nearest = (diffs["remaining"] - REFERENCE_REMAINING).abs()
    picked = diffs.loc[nearest.groupby([diffs["dataset"], diffs["model"]]).idxmin()]
    return picked.assign(arm=arm, control=control, remaining=100 * picked["remaining"]).reset_index(drop=True)



def _which(table: pd.DataFrame, mask, protocols: Protocols | None) -> str:
    names = [pair_label(d, m, protocols) for d, m in zip(table.loc[mask, "dataset"], table.loc[mask, "model"])]
    return f"{len(names)} of {len(table)}" + (f" ({', '.join(names)})" if names else "")


def headline(table: pd.DataFrame, protocols: Protocols | None = None) -> str:
    """The answer in three sentences, counted over the dataset × model pairs of
    :func:`verdict_table`: does the ticket match dense, does θ0 matter, does the mask matter."""
    if table.empty:
        return "No pruned results yet: no answer."
    matches = _which(table, table["matches_dense"].astype(bool), protocols)
    theta0 = _which(table, table["vs_reinit_verdict"] == "beats", protocols)
    mask = _which(table, table["vs_random_pruning_verdict"] == "beats", protocols)
    return (f"The winning ticket matches dense (within {table['margin'].iloc[0]:g} point, its level chosen on "
            f"validation) in {matches} dataset × model pairs.  θ0 matters, the ticket beating a full "
            f"re-initialisation of its mask, in {theta0}; the mask matters, the ticket beating random "
            f"pruning, in {mask}.  Every other comparison is either the other way or not resolved at this "
            f"scale (the table below says which).")
