# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Random controls: is it the initialisation or the structure?
#
# **Question.** Frankle & Carbin's claim is that a winning ticket works because of the
# *combination* of its mask and its original initialisation θ0.  The controls take one of them
# away:
#
# - **random re-initialisation**: the ticket's mask, every weight drawn afresh from the
#   distribution θ0 came from; a pretrained (GloVe) embedding is replaced by random vectors of
#   its scale (each coordinate from a normal with that coordinate's mean and standard deviation
#   over the GloVe rows), so nothing of θ0 survives but the zero biases (`theta0_share` in
#   runs.csv says how much: 1 for the ticket, about 0 here);
# - **random re-initialisation, GloVe kept** (models with a pretrained embedding only): the same,
#   but the GloVe rows stay as in θ0.  With a 10k × 50 embedding most of the network *is* those
#   rows, so this control keeps most of θ0 and a small difference from the ticket is expected
#   whatever the truth; it separates "the pretrained vectors" from "the rest of θ0";
# - **random pruning**: a random mask with the ticket's per-tensor sparsity, from θ0;
# - **random re-initialisation, the study's way**: iterative pruning of a network re-initialised
#   (every weight) at every level (its own masks, not the ticket's).
#
# If the hypothesis holds here, the winning ticket should stay accurate at sparsities where the
# controls fall away.  The branching controls take their masks from the winning-ticket trunk;
# whichever notebook runs first trains that trunk, and the store shares it.

# %%
# %matplotlib inline
from lthlib.report import figures, narrative
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
arms = None                # None: the winning ticket and the 'control' family of arms
levels = None              # pruning levels after the dense level 0
prune_fraction = None      # share of the remaining weights pruned per level
epochs = None              # training epochs per level
rewind_point = None        # late rewinding's θk: '1ep' or '500it'
prunable = None            # 'all' (weights and biases, as the study) or 'weights'
executor = None            # where training runs: local (default) | ray | slurm (lth run has their options)
protocol = None            # split protocol: one name, or per-dataset pairs as README shows

# %%
sel = report.selection(profile, datasets=datasets, models=models, seeds=seeds, arms=arms, family="control",
                       **report.parameters(globals()))
status = report.run_arms(sel)
results = report.load_results(sel)
report.answer(narrative.answer_against(results.runs, sel.arms, protocols=sel.protocols))

# %% [markdown]
# ## Accuracy against sparsity

# %%
fig = figures.plot_accuracy_vs_remaining(results.runs, sel.arms, protocols=sel.protocols,
                                         title="Winning ticket against its random controls")
report.show_figure(fig, profile, "accuracy_controls")

# %% [markdown]
# Each panel is one dataset × model.  The x axis is the fraction of prunable weights kept, on a
# log scale, dense on the left and sparser to the right; lines are means over seeds with 95%
# t-interval bands (drawn clipped to 0-100%; no band where fewer than three seeds give one: two
# seeds' interval spans most of a panel); the legend gives each arm's number of seeds, and a line
# from a single seed is dashed.  The dotted grey line is the dense network's mean over the seeds
# shown.  The hypothesis predicts the winning ticket's line stays
# at or near the dotted line further to the right than the controls; where the bands overlap,
# these seeds cannot tell the arms apart.  The paired differences below make that comparison per
# seed, which removes the variation the arms share (same data order, same dense network).
#
# ## Paired differences
#
# Winning ticket minus each control, in accuracy points, per pruned level: mean and 95% CI of the
# per-seed difference.

# %%
report.show_paired_differences(results.runs, profile, sel.arms, protocols=sel.protocols)

# %% [markdown]
# A level whose interval lies entirely above zero is one where the winning ticket beat the
# control on these seeds beyond seed noise; an interval that straddles zero is no evidence either
# way (with few seeds the intervals are wide, and with one seed there is no interval at all).

# %%
report.closing(sel, status)
