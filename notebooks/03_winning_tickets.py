# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Winning tickets: iterative magnitude pruning, rewound to θ0
#
# **Question.** Does iterative magnitude pruning (prune the smallest-magnitude surviving weights
# of each tensor, rewind the survivors to their initial values θ0, retrain, repeat) find sparse
# subnetworks that match the dense network's test accuracy, and how sparse can they get?  Two
# side questions from the original paper: do tickets train faster (earlier early-stopping epoch),
# and how is the sparsity spread over the layers?
#
# Each level trains until its validation loss has not improved for `patience` epochs (or the
# epoch cap); the level's reported network is the one of its best validation loss, and the next
# level's mask is computed from the weights its training *ended* with (the last epoch run), as
# IMP prunes a trained network.

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
status = report.run_arms(sel)
results = report.load_results(sel)
sound = tables.sound_view(results.runs, sel.arms)
report.answer(narrative.describe_matches(sound, [report.TICKET], protocols=sel.protocols))
report.say(narrative.NOT_THE_VERDICT)

# %% [markdown]
# ## Accuracy against sparsity

# %%
fig = figures.plot_accuracy_vs_remaining(results.runs, sel.arms, protocols=sel.protocols,
                                         title="Winning tickets: test accuracy vs weights remaining")
report.show_figure(fig, profile, "accuracy_winning_ticket")

# %% [markdown]
# Each panel is one dataset × model.  The x axis is the fraction of prunable weights kept, on a
# log scale, dense on the left and sparser to the right; lines are means over seeds with 95%
# t-interval bands (drawn clipped to 0-100%; no band where fewer than three seeds give one: two
# seeds' interval spans most of a panel); the legend gives each arm's number of seeds, and a line
# from a single seed is dashed.  The dotted grey line is the dense network's mean over the seeds
# shown.  A ticket that *matches* the dense network sits on or
# above the dotted line; the tables below say, under two stated criteria, up to which sparsity
# that holds, and contrast the study's way of picking the best ticket (on test) with picking it
# on validation.

# %%
study = tables.study_view(results.runs)
report.show_table(study, profile, "study_view_winning_ticket", protocols=sel.protocols)
report.show_table(sound, profile, "sound_view_winning_ticket", protocols=sel.protocols)
report.say(narrative.describe_study_vs_sound(study, sound, sel.protocols))
report.say(narrative.describe_matches(sound, protocols=sel.protocols))

# %% [markdown]
# `study_view` picks each seed's best pruned level by its **test** accuracy, as the reproduced
# study did, so its ticket accuracy is biased upwards: the same numbers choose the level and
# score it.  `sound_view` picks the level by validation accuracy and reports the test accuracy
# there.  *Matches dense* is judged on the mean over seeds: (a) within one standard deviation
# (over seeds) of the dense mean, (b) at or above the dense mean; the sparsity given is the
# largest level that meets it.
#
# ## Early stopping

# %%
report.show_figure(figures.plot_early_stopping(results.runs, sel.arms, protocols=sel.protocols),
                   profile, "early_stopping")
report.say(narrative.describe_early_stopping(results.runs, protocols=sel.protocols))

# %% [markdown]
# The early-stopping epoch is the epoch of lowest validation loss (mean ± 95% CI over seeds).
# Frankle & Carbin found that winning tickets reach it earlier than the dense network; a line
# that falls to the right says the same here, a flat or rising one does not.  With few epochs per
# level (small profiles) the epoch can only take a few values, so this is a coarse measure.
#
# ## Where the weights are pruned

# %%
report.show_figure(figures.plot_layer_remaining(results.layers, protocols=sel.protocols),
                   profile, "layer_remaining")
report.say(narrative.describe_layers(results.layers, protocols=sel.protocols))

# %% [markdown]
# Each line is one masked tensor: the share of its entries that survive at each level (log
# scale).  With `prune_scope='local'` every tensor loses the same fraction per level, so the lines
# coincide up to rounding (small tensors such as biases round visibly); with `'global'` one
# threshold is shared and the lines show which tensors IMP thins most.

# %%
report.closing(sel, status)
