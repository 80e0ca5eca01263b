# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Analysis
#
# **Question.** Taken together, do text classifiers have winning tickets?  This notebook trains
# nothing: it reads the results store that notebooks 01–04 filled, with the same parameters, and
# writes every table (to `results/<profile>/tables/`, CSV and Markdown) and figure (to
# `figures/<profile>/`).  It first says plainly which cells have no results and why.

# %%
# %matplotlib inline
from lthlib.experiment.overlap import mask_overlap
from lthlib.report import figures, learning, narrative, paired, per_class, power, tables, verdicts
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
arms = None                # None: every arm of the IMP study (notebook 06 reports the cheap tickets)
levels = None              # pruning levels after the dense level 0
prune_fraction = None      # share of the remaining weights pruned per level
epochs = None              # training epochs per level
rewind_point = None        # late rewinding's θk: '1ep' or '500it'
prunable = None            # 'all' (weights and biases, as the study) or 'weights'
protocol = None            # split protocol: one name, or per-dataset pairs as README shows

# %%
sel = report.selection(profile, datasets=datasets, models=models, seeds=seeds, arms=arms, family="imp",
                       **report.parameters(globals()))
results = report.load_results(sel)
differences = paired.paired_differences(results.runs, results.predictions, results.test_labels)
verdict = verdicts.verdict_table(differences, results.runs)
report.answer(verdicts.headline(verdict, sel.protocols))
report.show_table(verdicts.answer_table(verdict, sel.protocols), protocols=sel.protocols)
controls, rewinding = report.comparison("control"), report.comparison("rewind")

# %% [markdown]
# ## Paired differences at every level
#
# Every arm against dense (its level L against the same seed's level 0), every trunk against the
# re-initialisation of its own mask (the winning ticket also against the re-init that keeps the
# pretrained embedding, where that arm ran), and the winning ticket against random pruning, at
# **every** pruned level.  The seed is the unit of replication: an interval is the t-interval of
# the per-seed differences (n − 1 degrees of freedom) widened by the sampling error of the test
# set every seed shares (from each level's stored per-example predictions): `se_seeds` and
# `se_test` are the two parts, `t_low`/`t_high` the seed-only interval it is never narrower
# than, and a row with one seed has no interval at all (`interval_source` says which applies;
# `lthlib/report/inference.py`).  p-values come from the same t statistic, unfloored.  `family`
# marks the primary comparisons, whose one-sided p-values are Holm-adjusted together (`p_holm`);
# every other row is exploratory.  `tests/test_inference_calibration.py` shows the one-sided
# false-positive rate stays at or below 5% on simulated data with no true difference, where the
# bootstrap over seeds and test examples that these tables used before does not.

# %%
report.show_table(differences, profile, "paired_differences", protocols=sel.protocols)
report.say(paired.describe_family())
report.say(verdicts.describe_differences(differences, sel.protocols))
fig = figures.plot_paired_differences(differences, protocols=sel.protocols)
report.show_figure(fig, profile, "paired_differences")

# %% [markdown]
# Each panel is one dataset × model; the x axis is the share of prunable weights kept (log
# scale, dense on the left).  Solid lines are the winning ticket minus dense, minus its re-inits
# and minus random pruning; dashed lines are the rewinding trunks minus the re-init of their own
# masks; bands are the 95% intervals.  A line above the grey zero line favours the first arm;
# the dotted red line is the −1 point margin of "matches dense".
#
# ## Verdicts
#
# The winning ticket's level is chosen on **validation** (the sparsest level whose paired
# validation difference from dense has its 95% lower bound at or above −1 point), and the test
# set only reports it: ticket − dense against the margin (non-inferiority), ticket − random
# re-init (does θ0 matter?) and ticket − random pruning (does the mask matter?), Holm-adjusted
# as one family; the sensitivity columns repeat the choice and the rule for margins of 0.5, 1 and
# 2 points.  The study's two tables (without and with late rewinding) are read at the first level
# here at least as sparse as the study's ticket.

# %%
report.show_table(verdict, profile, "verdicts", columns=verdicts.SHOWN_COLUMNS, protocols=sel.protocols)
report.say(verdicts.describe_verdicts(verdict, sel.protocols))

# %% [markdown]
# How precise this run is: the paired winning ticket − random re-init difference at each
# dataset × model's level nearest 13% remaining (the report aims at a 95% half-width of 2.5
# points or less; more seeds narrow it).

# %%
report.show_table(verdicts.reference_intervals(results.runs), profile, "reference_intervals",
                  protocols=sel.protocols)

# %% [markdown]
# ## Does the verdict depend on the training budget or the stopping rule?
#
# A run ends when its validation loss has not improved for `patience` epochs, or at the epoch
# cap.  Where the cap ends a run that was still improving, its accuracy is that of a capped
# budget, and an arm that learns slowly (a re-initialisation) is judged before it has finished.
# The profile sizes the cap so that this is rare; the table says how rare, per arm (the target is
# at most 10% of the runs of every arm).  The reported accuracy is the study's rule (the weights
# of the best validation loss); beside it, the test accuracy at the epoch of the best validation
# *accuracy*, and the paired ticket − control differences under each rule, so a reader sees
# whether a verdict's sign depends on the rule.

# %%
learned = learning.learning_tables(results.runs, results.epochs, cap_of=sel.config)
report.show_table(learned["cap_binding"], profile, "cap_binding", protocols=sel.protocols)
report.save_table(learned["cap_binding_by_pair"], profile, "cap_binding_by_pair")
report.say(learning.describe_cap_binding(learned["cap_binding"]))
report.save_table(learned["stopping_rules"], profile, "stopping_rules")
report.show_table(learned["stopping_rule_differences"], profile, "stopping_rule_differences",
                  protocols=sel.protocols)
report.say(learning.describe_stopping_rules(learned["stopping_rule_differences"], sel.protocols))

# %% [markdown]
# ## Does the ticket learn faster?
#
# The lottery ticket paper's other measure: a winning ticket reaches its early-stopping epoch
# sooner and is more accurate early in training.  Per arm and level, the early-stopping epoch and
# the validation and test accuracy after epochs 1, 2 and 4 and at the cap (only runs that trained
# that epoch count: `n_at_*`), and the paired ticket − control differences.  The table shows the
# level nearest 21% remaining; every level is in `learns_faster_differences.csv`.

# %%
report.save_table(learned["learns_faster"], profile, "learns_faster")
report.save_table(learned["learns_faster_differences"], profile, "learns_faster_differences")
faster = learning.at_level_nearest(learned["learns_faster_differences"], results.runs, 0.21, dense=False)
report.show_table(faster, columns=["dataset", "model", "comparison", "reference", "level", "n", "best_epoch",
                                   "best_epoch_low", "best_epoch_high"]
                  + [f"val_acc_at_{e}{s}" for e in (1, 2, 4) for s in ("", "_low", "_high")],
                  protocols=sel.protocols)
fig = figures.plot_learning_curves(results.epochs, results.runs, remaining=0.21, protocols=sel.protocols)
report.show_figure(fig, profile, "learning_curves")

# %% [markdown]
# One panel per dataset × model at the level nearest 21% remaining: validation accuracy after
# each epoch, mean over seeds with a 95% band; the diamond is the arm's mean early-stopping epoch,
# and a line turns dotted once some of its seeds have stopped.  A ticket that learns faster
# starts higher and reaches its diamond sooner.
#
# ## How many seeds
#
# The seeds were fixed before this run from a power calculation on the previous run's
# seed-to-seed spread of the primary paired differences (`seed_spread.csv`, kept since that run is
# gone): the seeds a paired t-test needs to resolve a 2-point difference one-sided at 2.5% with
# 80% power, and the difference the seeds run resolve.  Beside it, the same plan from this run's
# spread, for the next run.

# %%
report.show_committed_table(profile, "seed_power", sel.protocols)
spread_now = power.seed_spread(results.runs)
report.save_table(spread_now, profile, "seed_spread_this_run")
report.show_table(power.power_plan(spread_now, report.seeds_per_dataset(sel)), profile, "seed_power_this_run",
                  protocols=sel.protocols)

# %% [markdown]
# ## As in the study
#
# The best pruned level chosen **on test accuracy**, per seed, then averaged over seeds; beside
# the study's published numbers (one run each).

# %%
study = tables.study_view(results.runs)
report.show_table(study, profile, "study_view", protocols=sel.protocols)

# %% [markdown]
# ## Soundly
#
# The level chosen **on validation accuracy**, test accuracy mean ± 95% t-interval over seeds.
# Whether a level matches dense is judged in the verdicts above (paired, on validation, with a
# stated margin); the table's `match_*` columns, read on test means, are kept for notebooks 03
# and 04 and are not a verdict.

# %%
sound = tables.sound_view(results.runs, sel.arms)
report.show_table(sound, profile, "sound_view", protocols=sel.protocols)
report.say(narrative.describe_study_vs_sound(study, sound, sel.protocols))

# %%
report.show_table(tables.dense_table(results.runs), profile, "dense_accuracy", protocols=sel.protocols)
report.show_table(tables.level_table(results.runs), profile, "accuracy_by_level", protocols=sel.protocols)

# %% [markdown]
# ## Winning ticket against the controls
#
# Per-seed paired differences (points), mean and 95% CI per level.

# %%
report.show_paired_differences(results.runs, profile, controls, protocols=sel.protocols)
fig = figures.plot_accuracy_vs_remaining(results.runs, controls, protocols=sel.protocols,
                                         title="Winning ticket against its random controls")
report.show_figure(fig, profile, "accuracy_controls")

# %% [markdown]
# Each panel is one dataset × model.  The x axis is the fraction of prunable weights kept, on a
# log scale, dense on the left and sparser to the right; lines are means over seeds with 95%
# t-interval bands (drawn clipped to 0-100%; no band where fewer than three seeds give one: two
# seeds' interval spans most of a panel); the legend gives each arm's number of seeds, and a line
# from a single seed is dashed.  The dotted grey line is the dense network's mean over the seeds
# shown.  The winning ticket is a ticket in Frankle & Carbin's
# sense where it stays near the dense line while the controls fall below it, and the paired
# intervals above lie above zero.
#
# ## Rewinding

# %%
title = "Where survivors are reset to: θ0, θk, end of dense training, none"
fig = figures.plot_accuracy_vs_remaining(results.runs, rewinding, title=title, protocols=sel.protocols)
report.show_figure(fig, profile, "accuracy_rewinding")
report.say(narrative.describe_against(results.runs, rewinding, protocols=sel.protocols))

# %% [markdown]
# The same axes as above.  Dense rewinding is the study's "late rewinding"; late rewinding proper
# rewinds to θk early in training.  The lines under the figure are each arm minus the winning
# ticket, paired by seed, at the sparsest level.
#
# ## Early stopping and per-layer sparsity

# %%
report.show_figure(figures.plot_early_stopping(results.runs, controls, protocols=sel.protocols),
                   profile, "early_stopping")
report.say(narrative.describe_early_stopping(results.runs, protocols=sel.protocols))
report.show_figure(figures.plot_layer_remaining(results.layers, protocols=sel.protocols),
                   profile, "layer_remaining")
report.say(narrative.describe_layers(results.layers, protocols=sel.protocols))

# %% [markdown]
# The first figure is the epoch of lowest validation loss against sparsity for the winning
# ticket and its random controls (mean ± 95% CI, the interval cut to the epochs trained; the arms
# are shifted slightly sideways so their bars do not cover each other); the second is the share
# of each masked tensor that survives at each level of the winning ticket.
#
# ## Do different seeds find the same ticket?
#
# Jaccard overlap (|A∩B| / |A∪B| over all prunable entries) of winning-ticket masks: between
# seeds at the same level, and between consecutive levels of one seed.

# %%
overlap = mask_overlap(results.runs, results.store.load_mask)
report.save_table(overlap, profile, "mask_overlap")
report.show_figure(figures.plot_mask_overlap(overlap, protocols=sel.protocols), profile, "mask_overlap")
report.say(narrative.describe_overlap(overlap, sel.protocols))

# %% [markdown]
# The black lines are references: dashed, what chance gives (two independent random masks keeping
# a fraction p overlap by p / (2 − p) in expectation); dotted, a mask nested in the previous
# level's, which overlaps it by exactly the ratio of their sizes (IMP masks are nested, so the
# consecutive-level points lie on the dotted line by construction).  Seeds whose tickets overlap
# well above the random line found partly the same subnetwork; points on the line mean the
# tickets are no more alike than random masks of that sparsity.

# %% [markdown]
# ## Per class
#
# Classes differ in difficulty (AG News has four).  Recall per class and the confusion matrix
# (scikit-learn's), for dense and for the winning ticket at its level chosen on validation, from
# the stored test predictions pooled over seeds; `recall_ci` is the t half-width over seeds and
# `recall_vs_dense` the ticket's pooled recall minus dense's, in points.

# %%
by_class, confusions = per_class.per_class(results.runs, results.predictions, results.test_labels,
                                           paired.choose_level(results.runs))
report.show_table(by_class, profile, "per_class", protocols=sel.protocols)
report.save_table(confusions, profile, "confusion_matrices")
report.show_figure(figures.plot_confusion(confusions, protocols=sel.protocols), profile, "confusion_matrices")
report.say(narrative.describe_per_class(by_class, sel.protocols))

# %% [markdown]
# Each matrix is normalised by row: the share (%) of each true class predicted as each class, so
# the diagonal is the per-class recall.
#
# ## The answer
#
# Per dataset × model, from the verdicts above: does the winning ticket match dense, and up to
# what sparsity; does θ0 matter (the ticket against a full re-init of its mask, and against a
# re-init that keeps the pretrained embedding); does the mask matter (against random pruning);
# and how the study's claims fare at this scale.  "Not resolved at this scale" means the
# interval includes the boundary: more seeds or a larger test set could settle it; it is not
# "no effect".

# %%
report.say(verdicts.describe_answer(verdict, sel.protocols))
report.show_table(verdicts.answer_table(verdict, sel.protocols), profile, "answer", protocols=sel.protocols)

# %% [markdown]
# ## What ran, and what did not

# %%
missing = tables.missing_cells(results.runs, results.status, results.expected)
report.say(narrative.describe_missing(missing, sel.protocols))
report.show_table(missing, profile, "missing_cells", protocols=sel.protocols)
report.note(narrative.describe_status(results.status, sel.protocols))

# %% [markdown]
# Every dataset × model × arm × seed cell of the grid appears above unless all its levels are in
# the store.  The reason is the one recorded when the cell was tried (for example, data that
# could not be had), the configuration's refusal, or, for a cell nothing has tried yet, which
# notebook trains it.  Missing cells are left out of every table and figure above, never imputed.

# %%
report.closing(sel)
