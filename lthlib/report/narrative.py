"""Plain sentences built from the numbers, for the notebooks' text.

The notebooks' prose holds whatever the numbers turn out to be; these functions print the
numbers themselves.  Every dataset is named under its protocol (``protocols``: dataset ->
protocol, else the frame's ``protocol`` column), every arm by its registry label.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import pandas as pd

from ..data.datasets import DATASETS
from ..data.sources import files_missing
from ..experiment.arms import ARMS, TICKET
from ..experiment.grid import listed
from ..experiment.profiles import PROFILES
from .labels import Protocols, arm_label, dataset_label, model_label, pair_label, protocols_of
from .stats import PAIR, format_ci, paired_difference


def _names(frame: pd.DataFrame | None, protocols: Protocols | None) -> dict[str, str]:
    return {**protocols_of(frame), **(protocols or {})}


def describe_arms(arms: Iterable[str]) -> str:
    """One line per arm: its label and what it does."""
    return "\n".join(f"{arm_label(arm)}: {ARMS.get(arm).description}" for arm in arms)


def describe_left_out(sel) -> str:
    """The profile's datasets a selection leaves out, and whether their files are here."""
    lines = []
    for dataset in PROFILES.get(sel.profile).datasets:
        if dataset in sel.datasets:
            continue
        protocol = sel.protocols.get(dataset)
        missing = files_missing(DATASETS.get(dataset).files(protocol))
        why = (f"its files {', '.join(missing)} are not available here (not in LTH_DATA_MIRROR "
               "or data/raw, and nothing was downloaded)" if missing else "its files are here")
        lines.append(f"{dataset_label(dataset, protocol)} did not run: left out by the datasets "
                     f"parameter; {why}. None of its cells appear in any table or figure.")
    return "\n".join(lines) or "No dataset of the profile was left out."


def describe_status(status: pd.DataFrame | None, protocols: Protocols | None = None) -> str:
    """'All 8 cells ran.' or one line per skipped dataset and reason: 'AG News did not run: ...'."""
    if status is None or status.empty:
        return "No cell of this selection has been run yet."
    skipped = status[status["status"] != "done"]
    if skipped.empty:
        return f"All {len(status)} cells ran (status 'done')."
    names = _names(status, protocols)
    lines = [f"{len(status) - len(skipped)} of {len(status)} cells ran; {len(skipped)} did not."]
    for (dataset, reason), group in skipped.groupby(["dataset", "reason"], sort=True):
        what = sorted({f"{model_label(m)} {arm_label(a)}" for m, a in zip(group["model"], group["arm"])})
        lines.append(f"{dataset_label(dataset, names.get(dataset))} did not run ({', '.join(what)}; "
                     f"seeds {sorted(set(group['seed'].astype(int)))}): {reason}")
    return "\n".join(lines)


def describe_missing(missing: pd.DataFrame, protocols: Protocols | None = None) -> str:
    if missing.empty:
        return "Every dataset × model × arm × seed cell of this selection has all its levels."
    lines = [f"{len(missing)} dataset × model × arm × seed cells lack results, by reason (each said once):"]
    for reason, by_reason in missing.groupby("reason", sort=True):
        cells = [f"{pair_label(dataset, model, protocols)} {arm_label(arm)} (seeds "
                 f"{listed(sorted(g['seed'].astype(int)))}; {', '.join(sorted(set(g['state'])))})"
                 for (dataset, model, arm), g in by_reason.groupby(["dataset", "model", "arm"], sort=True)]
        lines.append(f"- {reason}: {'; '.join(cells)}")
    return "\n".join(lines)


def describe_dense(table: pd.DataFrame, protocols: Protocols | None = None) -> str:
    if table.empty:
        return "No dense network has finished yet."
    lines = []
    for row in table.itertuples(index=False):
        study = f"; the study reported {row.study_dense_acc:.2f}%" if not pd.isna(row.study_dense_acc) else ""
        lines.append(f"{pair_label(row.dataset, row.model, protocols)}: dense test accuracy "
                     f"{format_ci(row.test_acc, row.test_acc_ci, unit='%')} over {row.n_seeds} seed(s), "
                     f"{row.n_params:,} parameters{study}.")
    return "\n".join(lines)


def describe_sweep(sweep: pd.DataFrame, profile: str, protocols: Protocols | None = None) -> str:
    """Per dataset × model: the recipe the rule chose on validation, against the recipe the
    profile trains every arm with."""
    if sweep.empty:
        return "No point of the dense recipe sweep has finished yet."
    from ..experiment.profiles import experiment
    lines = []
    for (dataset, model), group in sweep.groupby(PAIR, sort=True):
        pick = group[group["chosen"]].iloc[0]
        train = experiment(profile, dataset, model).train
        used = (train.lr, train.weight_decay) == (pick["lr"], pick["weight_decay"])
        lines.append(f"{pair_label(dataset, model, protocols)}: learning rate {pick['lr']:g}, weight decay "
                     f"{pick['weight_decay']:g} (validation {pick['best_val_acc']:.2f}%, best of {len(group)} "
                     f"points: {group['best_val_acc'].min():.2f}–{group['best_val_acc'].max():.2f}%); "
                     + ("every arm trains with it." if used else
                        f"the profile trains with learning rate {train.lr:g}, weight decay {train.weight_decay:g}."))
    return "\n".join(lines)


def describe_comparison(runs: pd.DataFrame, arm_a: str, arm_b: str,
                        protocols: Protocols | None = None) -> str:
    """Per dataset × model: at the sparsest level, arm_a minus arm_b (paired, 95% CI), and how
    many pruned levels have a CI entirely above / below zero."""
    diff = paired_difference(runs, arm_a, arm_b)
    if diff.empty:
        return f"No seed has both {arm_label(arm_a)} and {arm_label(arm_b)} at a pruned level yet."
    names = _names(runs, protocols)
    lines = []
    for (dataset, model), g in diff.groupby(PAIR, sort=True):
        last = g.sort_values("level").iloc[-1]
        above, below = int((g["ci_low"] > 0).sum()), int((g["ci_high"] < 0).sum())
        intervals = (f"over the {len(g)} pruned levels the 95% CI lies entirely above zero at {above} "
                     f"and entirely below zero at {below}." if g["ci"].notna().any()
                     else "with one seed there are no intervals.")
        lines.append(f"{pair_label(dataset, model, names)}: at {100 * last['remaining']:.3g}% of weights "
                     f"remaining, {arm_label(arm_a)} minus {arm_label(arm_b)} is "
                     f"{format_ci(last['diff'], last['ci'], unit=' points')} (n={int(last['n'])} seeds); "
                     + intervals)
    return "\n".join(lines)


def describe_against(runs: pd.DataFrame, arms: Iterable[str], reference: str = TICKET,
                     protocols: Protocols | None = None) -> str:
    """:func:`describe_comparison` of each arm (but the reference) minus ``reference``."""
    return "\n".join(describe_comparison(runs, arm, reference, protocols) for arm in arms if arm != reference)


def _sparsity_reached(value: float) -> str:
    return "no level" if pd.isna(value) else f"up to {value:.1f}% sparsity"


def describe_matches(sound: pd.DataFrame, arms: Sequence[str] | None = None,
                     protocols: Protocols | None = None) -> str:
    """Which arms keep up with dense, and to what sparsity, under both criteria."""
    if sound.empty:
        return "No pruned results yet."
    sub = sound if arms is None else sound[sound["arm"].isin(arms)]
    lines = []
    for row in sub.itertuples(index=False):
        within_std = ("not defined with one seed" if pd.isna(row.dense_std)
                      else _sparsity_reached(row.match_std_sparsity))
        chosen = format_ci(row.chosen_acc, row.chosen_ci, unit="%")
        dense = format_ci(row.dense_acc, row.dense_ci, unit="%")
        lines.append(f"{pair_label(row.dataset, row.model, protocols)}, {arm_label(row.arm)}: level chosen "
                     f"on validation gives {chosen} test accuracy (dense {dense}); within one std of dense: "
                     f"{within_std}; at or above the dense mean: "
                     f"{_sparsity_reached(row.match_mean_sparsity)}.")
    return "\n".join(lines)


#: what a notebook's descriptive criteria are not (03 answers with them; 05 gives the verdict)
NOT_THE_VERDICT = ("These criteria describe means over seeds; they are not the verdict.  Whether a ticket "
                   "matches dense is decided in notebook 05 (05_analysis), by seed-level intervals on the "
                   "paired differences with Holm's correction over the declared family; where the two "
                   "disagree, 05's answer is the report's.")


def _chosen_on_validation(sound: pd.DataFrame, dataset: str, model: str) -> str:
    s = sound[(sound["dataset"] == dataset) & (sound["model"] == model) & (sound["arm"] == TICKET)]
    if s.empty:
        return "there is no validation-chosen ticket yet"
    row = s.iloc[0]
    return (f"chosen on validation it is {format_ci(row['chosen_acc'], row['chosen_ci'], unit='%')} at "
            f"{row['chosen_sparsity']:.1f}% sparsity")


def describe_study_vs_sound(study: pd.DataFrame, sound: pd.DataFrame,
                            protocols: Protocols | None = None) -> str:
    """The winning ticket chosen on test (the study's way) against chosen on validation."""
    if study.empty:
        return "No results yet."
    lines = []
    for row in study.itertuples(index=False):
        sound_text = (_chosen_on_validation(sound, row.dataset, row.model) if not sound.empty
                      else "there is no validation-chosen ticket yet")
        lines.append(f"{pair_label(row.dataset, row.model, protocols)}: chosen on test (the study's way) the "
                     f"best ticket scores {row.ticket_acc:.2f}% at {row.ticket_sparsity:.1f}% sparsity "
                     f"(dense {row.dense_acc:.2f}%); {sound_text}.")
    return "\n".join(lines)


def describe_early_stopping(runs: pd.DataFrame, arm: str = TICKET, protocols: Protocols | None = None) -> str:
    sub = runs[runs["arm"] == arm] if not runs.empty else runs
    if sub.empty:
        return f"No {arm_label(arm)} results yet."
    names = _names(sub, protocols)
    lines = []
    for (dataset, model), g in sub.groupby(PAIR, sort=True):
        m = g.groupby("level").agg(epoch=("best_epoch", "mean"), remaining=("remaining", "mean"),
                                   epochs_run=("epochs_run", "max"))
        first, last = m.iloc[0], m.iloc[-1]
        lines.append(f"{pair_label(dataset, model, names)}: the best validation epoch averages "
                     f"{first.epoch:.1f} dense and {last.epoch:.1f} at {100 * last.remaining:.3g}% "
                     f"remaining (of at most {int(m['epochs_run'].max())} epochs run).")
    return "\n".join(lines)


def describe_layers(layers: pd.DataFrame, arm: str = TICKET, protocols: Protocols | None = None) -> str:
    sub = layers[layers["arm"] == arm] if not layers.empty else layers
    if sub.empty:
        return "No layer table yet."
    names = _names(sub, protocols)
    lines = []
    for (dataset, model), g in sub.groupby(PAIR, sort=True):
        last = g[g["level"] == g["level"].max()].groupby("tensor")["remaining"].mean()
        lines.append(f"{pair_label(dataset, model, names)} at level {int(g['level'].max())}: "
                     f"the tensors keep between {100 * last.min():.3g}% ({last.idxmin()}) and "
                     f"{100 * last.max():.3g}% ({last.idxmax()}) of their weights.")
    return "\n".join(lines)


def describe_overlap(overlap: pd.DataFrame, protocols: Protocols | None = None) -> str:
    if overlap.empty:
        return "No masks to compare yet."
    lines = []
    for (dataset, model, kind), g in overlap.groupby([*PAIR, "kind"], sort=True):
        last = g[g["level"] == g["level"].max()]
        reference = ("independent random masks" if kind == "across seeds"
                     else "a mask nested in the previous level's")
        lines.append(f"{pair_label(dataset, model, protocols)}, {kind}, at "
                     f"{100 * last['remaining'].iloc[0]:.3g}% remaining: Jaccard "
                     f"{last['jaccard'].mean():.3f} against {last['random'].mean():.3f} for {reference}.")
    return "\n".join(lines)


def describe_price(price: pd.DataFrame, protocols: Protocols | None = None) -> str:
    """Per dataset × model, at the sparsest level every arm reached: each arm's accuracy and the
    epochs its mask cost."""
    if price.empty:
        return "No pruned results yet."
    lines = []
    for (dataset, model), g in price.groupby(PAIR, sort=True):
        level = int(g.groupby("arm")["level"].max().min())
        at = g[g["level"] == level]
        parts = [f"{arm_label(row.arm)} {row.test_acc_text}% for {row.search_epochs:.3g} epochs of search"
                 for row in at.itertuples(index=False)]
        lines.append(f"{pair_label(dataset, model, protocols)}, at {at['remaining'].mean():.3g}% of weights "
                     f"remaining: " + "; ".join(parts) + ".")
    return "\n".join(lines)


def describe_collapse(critical: pd.DataFrame, protocols: Protocols | None = None) -> str:
    """Which arms collapse a layer, from which sparsity, and what goes first."""
    if critical.empty:
        return "No masks checked yet."
    lines = []
    for row in critical.itertuples(index=False):
        state = (f"a layer collapses from {row.critical_sparsity:.1f}% sparsity" if not pd.isna(row.critical_sparsity)
                 else f"no layer collapses up to {row.sparsest_checked:.1f}% sparsity")
        first = f"; first pruned away entirely: {row.first_pruned_away}" if row.first_pruned_away else ""
        lines.append(f"{pair_label(row.dataset, row.model, protocols)}, {arm_label(row.arm)}: {state}{first}.")
    return "\n".join(lines)


def describe_early_bird(table: pd.DataFrame, protocols: Protocols | None = None) -> str:
    """When the early-bird masks settled, what they cost against IMP, and their accuracy."""
    if table.empty:
        return "No early-bird tickets yet."
    lines = []
    for (dataset, model), g in table.groupby(PAIR, sort=True):
        last = g.sort_values("level").iloc[-1]
        settled = (f"settled in {100 * last['settled_share']:.0f}% of seeds (mean epoch "
                   f"{last['settled_epoch']:.1f})" if last["settled_share"] > 0 else "never settled")
        lines.append(f"{pair_label(dataset, model, protocols)}, at {last['remaining']:.3g}% remaining: the mask "
                     f"{settled}; it cost {last['early_bird_epochs']:.3g} epochs against IMP's "
                     f"{last['imp_epochs']:.3g}; early bird minus IMP ticket: {last['diff_text']}.")
    return "\n".join(lines)


def describe_per_class(table: pd.DataFrame, protocols: Protocols | None = None) -> str:
    """Per dataset × model: the hardest class for dense, and the class the ticket loses most on."""
    if table.empty:
        return "No stored test predictions yet (older stores): no per-class results."
    lines = []
    for (dataset, model), g in table.groupby(PAIR, sort=True):
        dense = g[g["level"] == 0]
        hardest = dense.loc[dense["recall"].idxmin()]
        text = (f"{pair_label(dataset, model, protocols)}: dense recall ranges from {hardest['recall']:.1f}% "
                f"({hardest['class_name']}) to {dense['recall'].max():.1f}%")
        ticket = g[g["level"] > 0]
        if len(ticket):
            worst = ticket.loc[ticket["recall_vs_dense"].idxmin()]
            text += (f"; the {arm_label(worst['arm'])} at level {int(worst['level'])} changes recall by "
                     f"{ticket['recall_vs_dense'].min():+.1f} to {ticket['recall_vs_dense'].max():+.1f} points "
                     f"(most lost: {worst['class_name']})")
        lines.append(text + ".")
    return "\n".join(lines)


def _times(x: float) -> str:
    return f"{x:.2g}×" if x < 10 else f"{x:.0f}×"


def _smaller(x: float) -> str:
    """A size ratio (dense / this) as words: 'N× smaller', or 'N× larger' below 1."""
    return f"{_times(x)} smaller" if x >= 1 else f"{_times(1 / x)} larger"


def _speed(x: float, noise: float = 0.1) -> str:
    """A latency ratio (before / after) as words: faster, slower, or within ``noise`` of equal."""
    if pd.isna(x):
        return "not measured"
    if abs(x - 1) <= noise:
        return f"about as fast ({x:.2f}×)"
    return f"{x:.2f}× as fast" if x > 1 else f"{1 / x:.2f}× as slow"


def _more_or_less(these: list[float], those: list[float]) -> str:
    """'more than' when the largest change (as a ratio either way) among ``these`` beats ``those``'s."""
    largest = lambda ratios: max((abs(math.log(x)) for x in ratios if x > 0 and not pd.isna(x)), default=0.0)  # noqa: E731
    return "more than" if largest(these) > largest(those) else "less than"


def savings_headline(summary: pd.DataFrame, best: pd.DataFrame, protocols: Protocols | None = None) -> str:
    """Notebook 08's answer in two or three sentences: the smallest deployable form per dataset ×
    model, and how much speed sparsity buys in the same runtime."""
    from .savings import BUDGET_POINTS
    if best.empty or summary.empty:
        return "No exported ticket has been measured yet: no answer."
    names = _names(summary, protocols)
    smallest = best[best["criterion"].str.startswith("smallest")]
    parts = [f"{pair_label(r.dataset, r.model, names)} {r.zstd_kib:.0f} KiB ({r.form} + zstd, "
             f"{'the dense network' if r.level == 0 else f'{r.remaining:.3g}% of the weights'}, "
             f"{_times(r.times_smaller)} smaller)" for r in smallest.itertuples(index=False)]
    timed = summary[[c for c in summary.columns if c.endswith("_b1_sparsity_x")]].to_numpy().ravel()
    return (f"The smallest deployable form within {BUDGET_POINTS:g} point of dense on validation, against the "
            f"dense fp32 checkpoint: {'; '.join(parts)}.  Sparsity buys storage, not speed: at the sparsest "
            f"level every runtime here runs at {timed.min():.2f}–{timed.max():.2f}× its dense speed at batch 1, "
            f"since none of them skips the pruned zeros.")


def describe_savings(summary: pd.DataFrame, best: pd.DataFrame, protocols: Protocols | None = None) -> str:
    """What sparsity buys on this CPU and what it does not, per dataset × model, from
    :func:`lthlib.report.savings.savings_summary` and :func:`lthlib.report.savings.best_tickets`."""
    from .savings import BUDGET_POINTS
    if summary.empty:
        return "No exported ticket has been measured yet."
    names = _names(summary, protocols)
    lines = []
    for row in summary.itertuples(index=False):
        r = row._asdict()
        lines.append(
            f"{pair_label(row.dataset, row.model, names)}, level {row.level} ({row.remaining:.3g}% of the "
            f"prunable weights remain; the embedding is {100 * row.embedding_share:.0f}% of the network): "
            f"as written, the sparse fp16 checkpoint is {_smaller(r['sparse_fp16_x'])} than the dense fp32 "
            f"checkpoint and the sparse fp32 one {_smaller(r['sparse_fp32_x'])}; ONNX fp32 keeps the pruned zeros "
            f"({_smaller(r['onnx_fp32_x'])} as written, {_smaller(r['onnx_fp32_zstd_x'])} with zstd) and int8 ONNX "
            f"is {_smaller(r['onnx_int8_x'])} ({_smaller(r['onnx_int8_zstd_x'])} with zstd); with zstd the sparse "
            f"fp16 checkpoint is {_smaller(r['sparse_fp16_zstd_x'])}.")
        sparsity = [r[f"{form}_b{batch}_sparsity_x"] for form in ("dense_fp32", "onnx_fp32", "onnx_int8")
                    for batch in (1, 64)]
        runtime = [r[f"{form}_b{batch}_vs_torch_x"] for form in ("onnx_fp32", "onnx_int8") for batch in (1, 64)]
        # a runtime gains from sparsity only as much as it gains at both batch sizes (one noisy
        # timing alone does not make a gain)
        gained = max(min(r[f"{form}_b1_sparsity_x"], r[f"{form}_b64_sparsity_x"])
                     for form in ("dense_fp32", "onnx_fp32", "onnx_int8"))
        verdict = ("and no runtime here turns that into speed" if gained <= 1.1
                   else "and the runtimes turn little of it into speed" if gained < 1 + (row.flops_ratio - 1) / 2
                   else "and a runtime here turns much of it into speed")
        lines.append(
            f"  Skipping the zeros would cut the arithmetic per example {_times(row.flops_ratio)}, {verdict}: "
            f"against its own dense run, at batch 1 the sparsest level is "
            f"{_speed(r['dense_fp32_b1_sparsity_x'])} in PyTorch, {_speed(r['onnx_fp32_b1_sparsity_x'])} in "
            f"onnxruntime fp32 and {_speed(r['onnx_int8_b1_sparsity_x'])} in int8 (batch 64: "
            f"{_speed(r['dense_fp32_b64_sparsity_x'])}, {_speed(r['onnx_fp32_b64_sparsity_x'])}, "
            f"{_speed(r['onnx_int8_b64_sparsity_x'])}).  CSR weights reach only the Linear layers "
            f"(the embedding, convolutions and LSTM take dense weights): "
            f"{_speed(r['sparse_fp32_csr_b1_vs_torch_x'])} as dense PyTorch at batch 1.  The runtime moves "
            f"latency {_more_or_less(runtime, sparsity)} sparsity does: on the sparsest level onnxruntime fp32 is "
            f"{_speed(r['onnx_fp32_b1_vs_torch_x'])} and int8 {_speed(r['onnx_int8_b1_vs_torch_x'])} as dense "
            f"PyTorch at batch 1 (batch 64: {_speed(r['onnx_fp32_b64_vs_torch_x'])}, "
            f"{_speed(r['onnx_int8_b64_vs_torch_x'])}).")
        lines.append(
            f"  Accuracy: the fp32 forms give the stored network's test predictions on "
            f"{row.fp32_agreement_min:.2f}% of examples at every level; int8 moves test accuracy by at most "
            f"{row.onnx_int8_moved_max:.2f} points (predictions the same on at least "
            f"{row.onnx_int8_agreement_min:.1f}%), fp16 by at most {row.sparse_fp16_moved_max:.2f}.")
        for choice in best[(best["dataset"] == row.dataset) & (best["model"] == row.model)].itertuples(index=False):
            what = ("the dense network itself" if choice.level == 0
                    else f"level {choice.level} ({choice.remaining:.3g}%)")
            lines.append(
                f"  Within {BUDGET_POINTS:g} point of dense on validation, the {choice.criterion.split(' ')[0]} "
                f"deployable form is {what} as {choice.form}: {choice.zstd_kib:.0f} KiB with zstd "
                f"({_smaller(choice.times_smaller)} than the dense checkpoint), {choice.b1_p50_ms:.2f} ms at "
                f"batch 1 ({_speed(choice.b1_speedup)} as dense PyTorch), test accuracy {choice.test_acc:.1f}% "
                f"({choice.test_diff:+.1f} points).")
    return "\n".join(lines)


def describe_exported_weights(levels: pd.DataFrame, forms: pd.DataFrame) -> str:
    """Which weights were exported, and whether their test accuracy is the store's."""
    if levels.empty:
        return "No level was exported."
    dense_runs = forms[forms["form"] == "dense_fp32"].merge(
        levels[["dataset", "model", "seed", "level", "final_test_acc", "test_acc"]],
        on=["dataset", "model", "seed", "level"], suffixes=("", "_stored"))
    final_gap = 100 * (dense_runs["test_acc"] - dense_runs["final_test_acc"]).abs().max()
    best_gap = 100 * (dense_runs["test_acc"] - dense_runs["test_acc_stored"]).abs().max()
    seeds = ", ".join(f"{d}/{m} seed {s}" for d, m, s in levels[["dataset", "model", "seed"]]
                      .drop_duplicates().itertuples(index=False))
    return (f"Exported: every level's final.pt ({len(levels)} networks: {seeds}), the weights after its last "
            f"epoch.  Their test accuracy, recomputed here, differs from the stored final_test_acc by at most "
            f"{final_gap:.2f} points, and from the stored test_acc (the best-validation epoch's, whose weights "
            f"the store does not keep) by up to {best_gap:.2f} points.")


def answer_against(runs: pd.DataFrame, arms: Iterable[str], reference: str = TICKET,
                   protocols: Protocols | None = None) -> str:
    """A sentence per arm (but ``reference``): at each dataset × model's sparsest level, in how
    many pairs ``reference`` minus the arm has its paired 95% interval above zero, below zero,
    or across it."""
    sentences = []
    for arm in [a for a in arms if a != reference]:
        diff = paired_difference(runs, reference, arm)
        if diff.empty:
            continue
        last = diff.sort_values("level").groupby(PAIR, sort=True).tail(1)
        above, below = int((last["ci_low"] > 0).sum()), int((last["ci_high"] < 0).sum())
        sentences.append(f"Against {arm_label(arm)}, at the sparsest level {arm_label(reference)} is ahead in "
                         f"{above}, behind in {below} and not resolved in {len(last) - above - below} of "
                         f"{len(last)} dataset × model pairs.")
    return " ".join(sentences) or "No pruned results yet: no answer."
