"""Write notebooks 01-05 of the report (00_data_prep is written by hand, elsewhere).

    .venv/bin/python notebooks/make_notebooks.py

The notebooks are thin: a question, a ``parameters`` cell for papermill, one call into
:mod:`lthlib.report` / :mod:`lthlib.lottery`, the figures, and text that holds whatever the
numbers turn out to be (the numbers themselves are printed by code).  Edit this file, not the
notebooks, and rerun it; it writes them without outputs.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

PARAMETERS = '''\
# Parameters (papermill: -p name value).  None = the profile's value.
# Lists may be given as '["imdb"]' or 'imdb,ag_news'.
profile = "smoke"          # smoke | quick | paper
datasets = None            # e.g. '["imdb"]'
models = None              # e.g. 'cnn,lstm'
seeds = None               # e.g. '[0, 1, 2]'
levels = None              # pruning levels after the dense level 0
prune_fraction = None      # share of the remaining weights pruned per level
epochs = None              # training epochs per level
rewind_point = None        # late rewinding's θk: '1ep' or '500it'
prunable = None            # 'all' (weights and biases, as the study) or 'weights'
'''

SETUP = '''\
%matplotlib inline
import warnings
warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm in a notebook
from lthlib import report
from lthlib.lottery import ARM_DESCRIPTIONS

sel = report.selection(profile, datasets=datasets, models=models, seeds=seeds, levels=levels,
                       prune_fraction=prune_fraction, epochs=epochs, rewind_point=rewind_point,
                       prunable=prunable)
print(sel.describe())
print(report.describe_left_out(sel))
'''

FIGURE_AXES = (
    "Each panel is one dataset × model.  The x axis is the fraction of prunable weights kept, "
    "on a log scale, dense on the left and sparser to the right; lines are means over seeds with "
    "95% t-interval bands (drawn clipped to 0-100%; no band where there is a single seed); the "
    "dotted grey line is the "
    "dense network's mean.")

STATUS_TEXT = (
    "The status table lists every dataset × model × arm × seed cell this notebook asked for. "
    "A cell marked `skipped` did not train, and the line above the table says why (for example, "
    "a dataset whose files could not be had offline); such a cell is simply absent from the "
    "figures below, never filled in.")


def parameters_cell():
    cell = new_code_cell(PARAMETERS)
    cell.metadata["tags"] = ["parameters"]
    return cell


def training_cells(arms: str, max_level: str = "None") -> list:
    return [
        new_code_cell(f"arms = {arms}\n"
                      "for arm in arms:\n"
                      "    print(f'{arm:16s} {ARM_DESCRIPTIONS[arm]}')\n"
                      f"status = report.run_arms(sel, arms, max_level={max_level})\n"
                      "report.show_table(status[['dataset', 'model', 'arm', 'seed', 'status', "
                      "'reason', 'levels_done']]);"),
        new_markdown_cell(STATUS_TEXT),
    ]


def notebook(cells: list) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    for index, cell in enumerate(nb.cells):  # stable ids: regenerating changes no line by chance
        cell.id = f"cell-{index:02d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def nb01():
    return notebook([
        new_markdown_cell(
            "# 01 · Dense baselines\n\n"
            "**Question.** How accurate are the dense (unpruned) networks on each dataset, and how "
            "many parameters do they have?  Every later comparison is against these numbers: "
            "level 0 of every arm *is* this network (same seed, same initialisation θ0), trained "
            "once and shared.\n\n"
            "The study reported one run per model; here every number is a mean over seeds with a "
            "95% t-interval, beside the study's published value."),
        parameters_cell(),
        new_code_cell(SETUP),
        new_markdown_cell("## Training the dense networks\n\n"
                          "`run_grid(arms=['winning_ticket'], max_level=0)`: level 0 only."),
        *training_cells("['winning_ticket']", max_level="0"),
        new_markdown_cell("## Dense accuracy\n\nTest accuracy at the epoch of best validation "
                          "loss (early stopping), in %, mean ± 95% CI over seeds."),
        new_code_cell("results = report.load_results(sel, ['winning_ticket'])\n"
                      "dense = report.dense_table(results.runs)\n"
                      "report.show_table(dense, profile, 'dense_accuracy')\n"
                      "print(report.describe_dense(dense))"),
        new_code_cell("report.show_figure(report.plot_training_curves(results.epochs, level=0), "
                      "profile, 'dense_training_curves')"),
        new_markdown_cell(
            "The curves are train, validation and test accuracy per epoch of the dense network, "
            "averaged over seeds.  The reported test accuracy is taken at the epoch with the lowest "
            "validation loss, not the last epoch, so a gap between the validation and training "
            "curves (over-fitting) does not lower it.  Differences from the study's dense numbers "
            "can come from the profile (the smoke and quick profiles use small models and little "
            "data by design), from the split protocol, and from seed-to-seed variation, which the "
            "interval shows and a single run cannot."),
        new_markdown_cell("## Model summary\n\nParameters per tensor of each network, on the "
                          "prepared data's vocabulary, and which tensors the masks prune."),
        new_code_cell("summary, notes = report.model_summaries(sel)\n"
                      "for note in notes:\n"
                      "    print(note)\n"
                      "for (dataset, model), table in summary.groupby(['dataset', 'model']):\n"
                      "    print(report.pair_name(dataset, model))\n"
                      "    report.show_table(table.drop(columns=['dataset', 'model']))\n"
                      "report.save_table(summary, profile, 'model_summary')\n"
                      "totals = report.parameter_totals(summary)\n"
                      "report.show_table(totals, profile, 'parameter_totals');"),
        new_markdown_cell(
            "`n_prunable` counts the entries a mask covers under this configuration (`prunable='all'`, "
            "the study's choice, covers biases and the embedding too).  The study's parameter counts "
            "are for its full-size models and vocabularies; the counts here match them only under "
            "the `paper` profile with the same vocabulary."),
    ])


def nb02():
    return notebook([
        new_markdown_cell(
            "# 02 · Random controls: is it the initialisation or the structure?\n\n"
            "**Question.** Frankle & Carbin's claim is that a winning ticket works because of the "
            "*combination* of its mask and its original initialisation θ0.  Two controls take one "
            "of them away:\n\n"
            "- **random re-initialisation**: the ticket's mask, fresh random weights;\n"
            "- **random pruning**: a random mask with the ticket's per-tensor sparsity, from θ0.\n\n"
            "If the hypothesis holds here, the winning ticket should stay accurate at sparsities "
            "where both controls fall away.  Both controls branch off the winning-ticket trunk "
            "(its masks); whichever notebook runs first trains that trunk, and the store shares it."),
        parameters_cell(),
        new_code_cell(SETUP),
        new_markdown_cell("## Training"),
        *training_cells("['winning_ticket', 'random_reinit', 'random_pruning']"),
        new_markdown_cell("## Accuracy against sparsity"),
        new_code_cell("results = report.load_results(sel, arms)\n"
                      "fig = report.plot_accuracy_vs_remaining(results.runs, report.CONTROL_ARMS,\n"
                      "    title='Winning ticket vs random re-initialisation vs random pruning')\n"
                      "report.show_figure(fig, profile, 'accuracy_controls')"),
        new_markdown_cell(
            FIGURE_AXES + "  The hypothesis predicts the winning ticket's line stays at or near "
            "the dotted line further to the right than the two controls; where the bands overlap, "
            "these seeds cannot tell the arms apart.  The paired differences below make that "
            "comparison per seed, which removes the variation the arms share (same data order, "
            "same dense network)."),
        new_markdown_cell("## Paired differences\n\nWinning ticket minus each control, in "
                          "accuracy points, per pruned level: mean and 95% CI of the per-seed "
                          "difference."),
        new_code_cell("for control in ['random_reinit', 'random_pruning']:\n"
                      "    diff = report.paired_difference(results.runs, 'winning_ticket', control)\n"
                      "    print(f'winning_ticket - {control}')\n"
                      "    report.show_table(diff, profile, f'paired_winning_ticket_vs_{control}')\n"
                      "    print(report.describe_comparison(results.runs, 'winning_ticket', control))"),
        new_markdown_cell(
            "A level whose interval lies entirely above zero is one where the winning ticket beat "
            "the control on these seeds beyond seed noise; an interval that straddles zero is no "
            "evidence either way (with few seeds the intervals are wide, and with one seed there "
            "is no interval at all)."),
    ])


def nb03():
    return notebook([
        new_markdown_cell(
            "# 03 · Winning tickets: iterative magnitude pruning, rewound to θ0\n\n"
            "**Question.** Does iterative magnitude pruning (prune the smallest-magnitude "
            "surviving weights of each tensor, rewind the survivors to their initial values θ0, "
            "retrain, repeat) find sparse subnetworks that match the dense network's test "
            "accuracy, and how sparse can they get?  Two side questions from the original paper: "
            "do tickets train faster (earlier early-stopping epoch), and how is the sparsity spread "
            "over the layers?"),
        parameters_cell(),
        new_code_cell(SETUP),
        new_markdown_cell("## Training"),
        *training_cells("['winning_ticket']"),
        new_markdown_cell("## Accuracy against sparsity"),
        new_code_cell("results = report.load_results(sel, arms)\n"
                      "fig = report.plot_accuracy_vs_remaining(results.runs, ['winning_ticket'],\n"
                      "    title='Winning tickets: test accuracy vs weights remaining')\n"
                      "report.show_figure(fig, profile, 'accuracy_winning_ticket')"),
        new_markdown_cell(FIGURE_AXES + "  A ticket that *matches* the dense network sits on or "
                          "above the dotted line; the tables below say, under two stated criteria, "
                          "up to which sparsity that holds, and contrast the study's way of picking "
                          "the best ticket (on test) with picking it on validation."),
        new_code_cell("study = report.study_view(results.runs)\n"
                      "report.show_table(study, profile, 'study_view_winning_ticket')\n"
                      "sound = report.sound_view(results.runs, ['winning_ticket'])\n"
                      "report.show_table(sound, profile, 'sound_view_winning_ticket')\n"
                      "print(report.describe_study_vs_sound(study, sound))\n"
                      "print(report.describe_matches(sound))"),
        new_markdown_cell(
            "`study_view` picks each seed's best pruned level by its **test** accuracy, as the "
            "reproduced study did, so its ticket accuracy is biased upwards: the same numbers choose "
            "the level and score it.  `sound_view` picks the level by validation accuracy and "
            "reports the test accuracy there.  *Matches dense* is judged on the mean over seeds: "
            "(a) within one standard deviation (over seeds) of the dense mean, (b) at or above the "
            "dense mean; the sparsity given is the largest level that meets it."),
        new_markdown_cell("## Early stopping"),
        new_code_cell("fig = report.plot_early_stopping(results.runs, ['winning_ticket'])\n"
                      "report.show_figure(fig, profile, 'early_stopping')\n"
                      "print(report.describe_early_stopping(results.runs))"),
        new_markdown_cell(
            "The early-stopping epoch is the epoch of lowest validation loss (mean ± 95% CI over "
            "seeds).  Frankle & Carbin found that winning tickets reach it earlier than the dense "
            "network; a line that falls to the right says the same here, a flat or rising one does "
            "not.  With few epochs per level (small profiles) the epoch can only take a few values, "
            "so this is a coarse measure."),
        new_markdown_cell("## Where the weights are pruned"),
        new_code_cell("fig = report.plot_layer_remaining(results.layers, 'winning_ticket')\n"
                      "report.show_figure(fig, profile, 'layer_remaining')\n"
                      "print(report.describe_layers(results.layers))"),
        new_markdown_cell(
            "Each line is one masked tensor: the share of its entries that survive at each level "
            "(log scale).  With `prune_scope='local'` every tensor loses the same fraction per level, "
            "so the lines coincide up to rounding (small tensors such as biases round visibly); with "
            "`'global'` one threshold is shared and the lines show which tensors IMP thins most."),
    ])


def nb04():
    return notebook([
        new_markdown_cell(
            "# 04 · Late rewinding and its relatives\n\n"
            "**Question.** Does it matter *where* the surviving weights are reset to?  Beside the "
            "winning ticket (rewind to θ0):\n\n"
            "- **late rewinding**: rewind to θk, the weights after k iterations of dense training "
            "(`rewind_point`; Frankle et al. 2019);\n"
            "- **dense rewinding**: rewind to the *end* of dense training, which is what the "
            "reproduced study called \"late rewinding\"; kept under an honest name to compare with "
            "its table;\n"
            "- **learning-rate rewinding**: keep the trained weights and retrain the full schedule "
            "(Renda et al. 2020);\n"
            "- **fine-tuning**: keep the trained weights and train on for a few epochs."),
        parameters_cell(),
        new_code_cell(SETUP),
        new_markdown_cell("## Training"),
        *training_cells("['winning_ticket', 'late_rewinding', 'dense_rewinding', 'lr_rewinding', "
                        "'fine_tuning']"),
        new_markdown_cell("## Accuracy against sparsity"),
        new_code_cell("results = report.load_results(sel, arms)\n"
                      "fig = report.plot_accuracy_vs_remaining(results.runs, report.REWIND_ARMS,\n"
                      "    title='Where survivors are reset to: θ0, θk, end of dense training, none')\n"
                      "report.show_figure(fig, profile, 'accuracy_rewinding')"),
        new_markdown_cell(
            FIGURE_AXES + "  Arms that start a level from trained weights (dense rewinding, "
            "LR rewinding, fine-tuning) are expected to degrade more slowly than rewinding to θ0, "
            "because they do not have to relearn from scratch; whether late rewinding to θk "
            "closes that gap is what the green line against the blue one shows.  Fine-tuning trains "
            "fewer epochs per level than the others, so it is a cheaper, not an equal-budget, arm."),
        new_code_cell("study = report.study_view(results.runs)\n"
                      "report.show_table(study, profile, 'study_view_rewinding')\n"
                      "sound = report.sound_view(results.runs, arms)\n"
                      "report.show_table(sound, profile, 'sound_view_rewinding')\n"
                      "print(report.describe_matches(sound))\n"
                      "print(report.describe_comparison(results.runs, 'late_rewinding', 'winning_ticket'))"),
        new_markdown_cell(
            "The study view's `late_rewinding_*` and `dense_rewinding_*` columns put both meanings "
            "of \"late rewinding\" beside the study's published ticket numbers (chosen on test, as "
            "there); the sound view chooses on validation and gives 95% intervals.  The last lines "
            "are the paired difference of late rewinding minus the winning ticket at the sparsest "
            "level."),
    ])


def nb05():
    return notebook([
        new_markdown_cell(
            "# 05 · Analysis\n\n"
            "**Question.** Taken together, do text classifiers have winning tickets?  This notebook "
            "trains nothing: it reads the results store that notebooks 01–04 filled, with the same "
            "parameters, and writes every table (to `results/<profile>/tables/`, CSV and Markdown) "
            "and figure (to `figures/<profile>/`).  It first says plainly which cells have no "
            "results and why."),
        parameters_cell(),
        new_code_cell(SETUP),
        new_markdown_cell("## What ran, and what did not"),
        new_code_cell("results = report.load_results(sel)\n"
                      "missing = report.missing_cells(results.runs, results.status, results.expected)\n"
                      "print(report.describe_missing(missing))\n"
                      "report.show_table(missing, profile, 'missing_cells')\n"
                      "if not results.status.empty:\n"
                      "    print(report.describe_status(results.status))"),
        new_markdown_cell(
            "Every dataset × model × arm × seed cell of the grid appears above unless all its "
            "levels are in the store.  The reason is the one recorded when the cell was tried "
            "(for example, data that could not be had), the configuration's refusal, or, for a cell "
            "nothing has tried yet, which notebook trains it.  Missing cells are left out of every "
            "table and figure below, never imputed."),
        new_markdown_cell("## As in the study\n\nThe best pruned level chosen **on test accuracy**, "
                          "per seed, then averaged over seeds; beside the study's published "
                          "numbers (one run each)."),
        new_code_cell("study = report.study_view(results.runs)\n"
                      "report.show_table(study, profile, 'study_view');"),
        new_markdown_cell("## Soundly\n\nThe level chosen **on validation accuracy**, test accuracy "
                          "mean ± 95% t-interval over seeds, and the largest sparsity that matches "
                          "dense under (a) within one std of the dense mean, (b) at or above it."),
        new_code_cell("sound = report.sound_view(results.runs)\n"
                      "report.show_table(sound, profile, 'sound_view')\n"
                      "print(report.describe_study_vs_sound(study, sound))\n"
                      "print(report.describe_matches(sound))"),
        new_code_cell("report.show_table(report.dense_table(results.runs), profile, 'dense_accuracy')\n"
                      "report.show_table(report.level_table(results.runs), profile, 'accuracy_by_level');"),
        new_markdown_cell("## Winning ticket against the controls\n\nPer-seed paired differences "
                          "(points), mean and 95% CI per level."),
        new_code_cell("for control in ['random_reinit', 'random_pruning']:\n"
                      "    diff = report.paired_difference(results.runs, 'winning_ticket', control)\n"
                      "    report.show_table(diff, profile, f'paired_winning_ticket_vs_{control}')\n"
                      "    print(report.describe_comparison(results.runs, 'winning_ticket', control))\n"
                      "fig = report.plot_accuracy_vs_remaining(results.runs, report.CONTROL_ARMS,\n"
                      "    title='Winning ticket vs random re-initialisation vs random pruning')\n"
                      "report.show_figure(fig, profile, 'accuracy_controls')"),
        new_markdown_cell(FIGURE_AXES + "  The winning ticket is a ticket in Frankle & Carbin's "
                          "sense where it stays near the dense line while both controls fall "
                          "below it, and the paired intervals above lie above zero."),
        new_markdown_cell("## Rewinding"),
        new_code_cell("fig = report.plot_accuracy_vs_remaining(results.runs, report.REWIND_ARMS,\n"
                      "    title='Where survivors are reset to: θ0, θk, end of dense training, none')\n"
                      "report.show_figure(fig, profile, 'accuracy_rewinding')\n"
                      "print(report.describe_comparison(results.runs, 'late_rewinding', 'winning_ticket'))"),
        new_markdown_cell(FIGURE_AXES + "  Dense rewinding is the study's \"late rewinding\"; "
                          "late rewinding proper rewinds to θk early in training."),
        new_markdown_cell("## Early stopping and per-layer sparsity"),
        new_code_cell("fig = report.plot_early_stopping(results.runs, ['winning_ticket', 'random_reinit'])\n"
                      "report.show_figure(fig, profile, 'early_stopping')\n"
                      "print(report.describe_early_stopping(results.runs))\n"
                      "fig = report.plot_layer_remaining(results.layers, 'winning_ticket')\n"
                      "report.show_figure(fig, profile, 'layer_remaining')\n"
                      "print(report.describe_layers(results.layers))"),
        new_markdown_cell(
            "The first figure is the epoch of lowest validation loss against sparsity for the "
            "winning ticket and its random re-initialisation (mean ± 95% CI); the second is the "
            "share of each masked tensor that survives at each level of the winning ticket."),
        new_markdown_cell("## Do different seeds find the same ticket?\n\nJaccard overlap "
                          "(|A∩B| / |A∪B| over all prunable entries) of winning-ticket masks: "
                          "between seeds at the same level, and between consecutive levels of one "
                          "seed."),
        new_code_cell("overlap = report.mask_overlap(results.runs, report.store(profile).load_mask)\n"
                      "report.save_table(overlap, profile, 'mask_overlap')\n"
                      "fig = report.plot_mask_overlap(overlap)\n"
                      "report.show_figure(fig, profile, 'mask_overlap')\n"
                      "print(report.describe_overlap(overlap))"),
        new_markdown_cell(
            "Dashed lines are what chance gives: two independent random masks keeping a fraction p "
            "overlap by p / (2 − p) in expectation, and a mask nested in the previous level's "
            "overlaps it by exactly the ratio of their sizes (IMP masks are nested, so the "
            "consecutive-level points lie on their dashed line by construction).  Seeds whose "
            "tickets overlap well above the random line found partly the same subnetwork; points on "
            "the line mean the tickets are no more alike than random masks of that sparsity."),
    ])


NOTEBOOKS = {
    "01_baselines.ipynb": nb01,
    "02_random_pruning.ipynb": nb02,
    "03_winning_tickets.ipynb": nb03,
    "04_late_rewinding.ipynb": nb04,
    "05_analysis.ipynb": nb05,
}


def main() -> None:
    for name, build in NOTEBOOKS.items():
        nb = build()
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)
        print(f"wrote notebooks/{name}")


if __name__ == "__main__":
    main()
