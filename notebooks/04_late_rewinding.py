# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Late rewinding and its relatives
#
# **Question.** Does it matter *where* the surviving weights are reset to?  Beside the winning
# ticket (rewind to θ0):
#
# - **late rewinding**: rewind to θk, the weights after k iterations of dense training
#   (`rewind_point`; Frankle et al. 2019);
# - **dense rewinding**: rewind to the *end* of dense training, which is what the reproduced study
#   called "late rewinding"; kept under an honest name to compare with its table;
# - **learning-rate rewinding**: keep the trained weights and retrain the full schedule (Renda et
#   al. 2020);
# - **fine-tuning**: keep the trained weights and train on for a few epochs.
#
# Each rewinding trunk whose tickets are compared with a random re-initialisation gets its own:
# **random re-init of late rewinding's mask** and **of dense rewinding's mask** re-draw every
# weight of *that* trunk's mask, so a difference joins two networks that share their mask and
# differ only in where the survivors start.

# %%
# %matplotlib inline
from lthlib.report import figures, narrative, tables
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
arms = None                # None: the winning ticket and the 'rewind' family of arms
levels = None              # pruning levels after the dense level 0
prune_fraction = None      # share of the remaining weights pruned per level
epochs = None              # training epochs per level
rewind_point = None        # late rewinding's θk: '1ep' or '500it'
prunable = None            # 'all' (weights and biases, as the study) or 'weights'
executor = None            # where training runs: local (default) | ray | slurm (lth run has their options)
protocol = None            # split protocol: one name, or per-dataset pairs as README shows

# %%
sel = report.selection(profile, datasets=datasets, models=models, seeds=seeds, arms=arms, family="rewind",
                       **report.parameters(globals()))
status = report.run_arms(sel)
results = report.load_results(sel)
report.answer(narrative.answer_against(results.runs, sel.arms, protocols=sel.protocols))

# %% [markdown]
# ## Accuracy against sparsity

# %%
title = "Where survivors are reset to: θ0, θk, end of dense training, none"
fig = figures.plot_accuracy_vs_remaining(results.runs, sel.arms, title=title, protocols=sel.protocols)
report.show_figure(fig, profile, "accuracy_rewinding")

# %% [markdown]
# Each panel is one dataset × model.  The x axis is the fraction of prunable weights kept, on a
# log scale, dense on the left and sparser to the right; lines are means over seeds with 95%
# t-interval bands (drawn clipped to 0-100%; no band where fewer than three seeds give one: two
# seeds' interval spans most of a panel); the legend gives each arm's number of seeds, and a line
# from a single seed is dashed.  The dotted grey line is the dense network's mean over the seeds
# shown.  Arms that start a level from trained weights (dense
# rewinding, LR rewinding, fine-tuning) are expected to degrade more slowly than rewinding to
# θ0, because they do not have to relearn from scratch; whether late rewinding to θk closes that
# gap is what its line against the winning ticket's shows.  Fine-tuning trains fewer epochs per
# level than the others, so it is a cheaper, not an equal-budget, arm.

# %%
study = tables.study_view(results.runs)
report.show_table(study, profile, "study_view_rewinding", protocols=sel.protocols)
sound = tables.sound_view(results.runs, sel.arms)
report.show_table(sound, profile, "sound_view_rewinding", protocols=sel.protocols)
report.say(narrative.describe_matches(sound, protocols=sel.protocols))
report.say(narrative.describe_against(results.runs, sel.arms, protocols=sel.protocols))

# %% [markdown]
# The study view's `late_rewinding_*` and `dense_rewinding_*` columns put both meanings of "late
# rewinding" beside the study's published ticket numbers (chosen on test, as there); the sound
# view chooses on validation and gives 95% intervals.  The last lines are the paired difference
# of each arm minus the winning ticket at the sparsest level: positive where resetting elsewhere
# than θ0 did better on these seeds.

# %%
report.closing(sel, status)
