# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · Tickets across datasets
#
# *On the quick profile this notebook runs on its own settings, not notebooks 01-05's: 3
# levels of 55% (45, 20 and 9.1% remaining), seeds 0-2, IMDb at 2,000 reviews of 100 tokens,
# SST-2 at 6,000 sentences, one target (SST-2) from two sources; converged training as theirs
# (`QUICK_TRANSFER` in `lthlib/experiment/profiles.py` gives the costs behind the cut).*
#
# **Question.** The study ended with its follow-up under way: how well does a winning ticket
# found on one dataset perform on another dataset of the same task?  For image classifiers
# Morcos et al. (2019) found that tickets transfer, best from larger sources; for BERT, Chen et
# al. (2020) found that tickets of most GLUE tasks transfer little.  Here, text classifiers
# trained from scratch: IMDb reviews and SST-2 sentences (same task, same domain, very
# different lengths and sizes; the paper profile runs both ways, quick IMDb to SST-2), and one
# contrast across tasks, an AG News (topic) ticket trained on SST-2 (sentiment).
#
# **How.** Every network of this notebook reads one vocabulary built from all its datasets'
# training splits, so an embedding row is the same word on both sides of a pair.  On the
# target, at every level and the same seeds: the target's own IMP ticket (the upper
# reference), the **transferred ticket** (the source's mask and θ0), the transferred mask with
# every weight re-drawn, a random mask of the same per-tensor sparsity from the same θ0, and
# the dense network (level 0).  An output layer whose classes differ (AG News' four) is
# re-initialised and left dense; embedding rows of words the source never trained on are
# masked at random at the embedding's sparsity (`lthlib/experiment/transfer.py`).

# %%
# %matplotlib inline
from lthlib.experiment.arms import TICKET, families
from lthlib.experiment.transfer import transfer_grid
from lthlib.report import figures, stopping, transfer_verdicts
from lthlib.report import notebook as report

# %% tags=["parameters"]
# In JupyterLab: set the values below and run all cells; training and tables go to
# results/<profile>-scratch/ (`%env LTH_READ_COMMITTED=1` first: read the committed results,
# train nothing; README "Exploring in JupyterLab").  From a shell: papermill -p name value.
# None = the profile's value.  Every configuration
# parameter (`lth parameters` lists them) may be given with -p.
profile = "smoke"          # smoke | quick | paper
pairs = None               # e.g. 'imdb>sst2,ag_news>sst2' (the profile's transfer pairs by default)
models = None              # e.g. 'cnn,lstm'
seeds = None               # e.g. '[0, 1, 2, 3]'
levels = None              # pruning levels after the dense level 0
epochs = None              # training epochs per level
executor = None            # where training runs: local (default) | ray | slurm
datasets = None            # keeps the pairs both of whose datasets it names
arms = None                # not used here: the five arms above always run

# %%
grid = transfer_grid(profile, pairs=pairs, models=models, seeds=seeds, datasets=datasets,
                     **report.parameters(globals()))
status = report.run_grid(grid, "transfer_status")
store = report.store(profile)
expected = grid.expected()
runs = report.require(transfer_verdicts.by_pair(store.runs(), expected), grid)
predictions = transfer_verdicts.by_pair(store.table("predictions"), expected)
table, chosen = transfer_verdicts.transfer_differences(runs, predictions, store.table("test_labels"))
verdicts = transfer_verdicts.verdict_table(table, chosen, runs)
report.answer(transfer_verdicts.headline(verdicts))

# %% [markdown]
# ## Target accuracy against weights remaining

# %%
shown = [TICKET, *families("transfer")]
fig = figures.plot_accuracy_vs_remaining(runs, shown, title="On the target: its own ticket and the source's",
                                         arm_names={TICKET: transfer_verdicts.OWN_TICKET_NAME})
report.show_figure(fig, profile, "accuracy_transfer")

# %% [markdown]
# One panel per pair and model: lines are means over seeds with 95% t-interval bands (three or
# more seeds), the dotted grey line the target's dense network.  The x axis counts every
# weight, the embedding included; the table below gives the sparsity without it too.
#
# ## Paired differences at every level

# %%
report.show_table(table, profile, "transfer_paired_differences", columns=transfer_verdicts.SHOWN_DIFFERENCE_COLUMNS)
report.say(transfer_verdicts.describe_family())

# %% [markdown]
# Intervals are at the level of the seed: the paired per-seed differences' t-interval widened by
# the shared test set's sampling error (`se_seeds`, `se_test`; `lthlib/report/inference.py`), so
# never narrower than the seeds' own t-interval; a row with one seed has none.  The primary rows
# are those at each pair's level chosen on validation; every other row is exploratory.
#
# ## The answer

# %%
report.show_table(verdicts, profile, "transfer_verdicts", columns=transfer_verdicts.SHOWN_VERDICT_COLUMNS)
report.say(transfer_verdicts.describe_answer(verdicts))
report.say(stopping.describe_cap_binding(transfer_verdicts.cap_binding(runs, grid.trunks())))

# %%
report.note(f"{(status['status'] == 'done').sum()} of {len(status)} cells done")
report.closing(grid, status[status["status"] != "done"])
