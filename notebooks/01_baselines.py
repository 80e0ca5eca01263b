# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Dense baselines
#
# **Question.** Which training recipe should the dense networks get, how accurate are they with
# it, and how many parameters do they have?  Every later comparison is against these numbers:
# level 0 of every arm *is* this network (same seed, same initialisation θ0), trained once and
# shared, and every arm trains with the recipe chosen here, before any pruning.
#
# The study reported one run per model; here every number is a mean over seeds with a 95%
# t-interval, beside the study's published value.

# %%
# %matplotlib inline
from lthlib.report import figures, model_summary, narrative, tables
from lthlib.report import notebook as report

# %% tags=["parameters"]
# In JupyterLab: set the values below and run all cells; training and tables go to
# results/<profile>-scratch/ (`%env LTH_READ_COMMITTED=1` first: read the committed results,
# train nothing; README "Exploring in JupyterLab").  From a shell: papermill -p name value.
# None = the profile's value.  Every configuration
# parameter (`lth parameters` lists them) may be given with -p, listed here or not.
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
executor = None            # where training runs: local (default) | ray | slurm (lth run has their options)
protocol = None            # split protocol: one name, or per-dataset pairs as README shows

# %%
sel = report.selection(profile, datasets=datasets, models=models, seeds=seeds,
                       **report.parameters(globals()))
sweep = report.run_sweep(sel)
status = report.run_arms(sel, max_level=0)
results = report.load_results(sel)
dense = tables.dense_table(results.runs)
report.answer(narrative.describe_dense(dense, sel.protocols))

# %% [markdown]
# ## The recipe, chosen on validation before any pruning
#
# A small sweep per dataset × model on one seed (seed 0): learning rate × AdamW's decoupled
# weight decay, the grid in `lthlib/experiment/recipe.py` (`SWEEPS`).  The rule was written in
# code before the sweep ran (`recipe.choose`): the best validation accuracy of the weights the
# study's rule keeps (best validation loss); points within 0.25 points of it are a tie, broken
# towards the least weight decay.  Test accuracy is in the table for the record and plays no part.
# The profile then trains every arm with the chosen recipe (`QUICK_RECIPES` in
# `lthlib/experiment/profiles.py`; a test checks the two agree), and the sweep's chosen point *is*
# seed 0's dense network below.

# %%
report.show_table(sweep, profile, "dense_sweep", protocols=sel.protocols)
report.say(narrative.describe_sweep(sweep, profile, sel.protocols))

# %% [markdown]
# ## Dense accuracy
#
# Test accuracy at the epoch of best validation loss (early stopping), in %, mean ± 95% CI over
# seeds.

# %%
report.show_table(dense, profile, "dense_accuracy", protocols=sel.protocols)
report.say(narrative.describe_dense(dense, sel.protocols))

# %%
report.show_figure(figures.plot_training_curves(results.epochs, level=0, protocols=sel.protocols),
                   profile, "dense_training_curves")

# %% [markdown]
# The curves are train, validation and test accuracy per epoch of the dense network, averaged
# over seeds.  The reported test accuracy is taken at the epoch with the lowest validation loss,
# not the last epoch, so a gap between the validation and training curves (over-fitting) does not
# lower it.  Differences from the study's dense numbers can come from the profile (the smoke and
# quick profiles use small models and little data by design), from the split protocol, and from
# seed-to-seed variation, which the interval shows and a single run cannot.
#
# ## Model summary
#
# Parameters per tensor of each network, on the prepared data's vocabulary, and which tensors
# the masks prune.

# %%
summary, notes = model_summary.model_summaries(sel)
report.say(notes)
report.show_by_pair(summary, sel.protocols)
report.save_table(summary, profile, "model_summary")
report.show_table(model_summary.parameter_totals(summary), profile, "parameter_totals",
                  protocols=sel.protocols)

# %% [markdown]
# `n_prunable` counts the entries a mask covers under this configuration (`prunable='all'`, the
# study's choice, covers biases and the embedding too).  The study's parameter counts are for its
# full-size models and vocabularies; the counts here match them only under the `paper` profile
# with the same vocabulary.  `embedding_share` is the embedding's share of the network: what a
# re-initialisation that keeps a pretrained embedding (`random_reinit_keep_glove`) keeps of θ0.
# The study's BiLSTM is about half embedding; the small BiLSTM here is mostly embedding, so that
# control keeps most of θ0 and only the full re-initialisation (`random_reinit`) tests θ0.

# %%
report.closing(sel, status)
