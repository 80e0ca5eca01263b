# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Tickets without the full price
#
# **Question.** Iterative magnitude pruning finds a ticket by training the dense network, then
# every pruned network, again and again.  Can a mask as good be had for less?
#
# - **at initialisation, from one look at the data**: SNIP (Lee et al. 2019) keeps the weights
#   with the largest |g ⊙ θ0|; GraSP (Wang et al. 2020) keeps those whose removal least reduces
#   the gradient flow (scores θ0 ⊙ Hg);
# - **at initialisation, from no data at all**: SynFlow (Tanaka et al. 2020) iteratively keeps
#   the weights that carry the most "synaptic flow" through the network with absolute weights and
#   an all-ones input, which is designed to avoid *layer collapse*;
# - **early in training**: an early-bird ticket (You et al. 2020) is the magnitude mask drawn
#   during dense training once consecutive epochs' masks stop changing (normalised Hamming
#   distance ≤ ε over a window).
#
# Each is pruned to the winning ticket's sparsity at every level and trained from θ0 like the
# ticket; random pruning at the same per-tensor sparsity is the floor.  How an embedding lookup
# and an LSTM's gates are read for SynFlow (the embedding as a linear map on one-hot inputs; the
# gates' nonlinearities kept) is documented in `lthlib/nets/scores.py`.

# %%
# %matplotlib inline
from lthlib.report import figures, narrative, ticket_price
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
arms = None                # None: the winning ticket, random pruning and the 'init' family
levels = None              # pruning levels after the dense level 0
prune_fraction = None      # share of the remaining weights pruned per level
epochs = None              # training epochs per level
prunable = None            # 'all' (weights and biases, as the study) or 'weights'
executor = None            # where training runs: local (default) | ray | slurm (lth run has their options)
protocol = None            # split protocol: one name, or per-dataset pairs as README shows
init_scope = None          # SNIP, GraSP, SynFlow: 'global' (their papers') or 'local'
synflow_rounds = None      # SynFlow's pruning rounds (100 in the paper)
early_bird_epsilon = None  # the early-bird masks count as settled at or below this distance

# %%
sel = report.selection(profile, datasets=datasets, models=models, seeds=seeds, arms=arms,
                       default_arms=ticket_price.cheap_arms(), **report.parameters(globals()))
status = report.run_arms(sel)
results = report.load_results(sel)
report.answer(narrative.answer_against(results.runs, sel.arms, protocols=sel.protocols))

# %% [markdown]
# ## Accuracy against sparsity

# %%
fig = figures.plot_accuracy_vs_remaining(results.runs, sel.arms, protocols=sel.protocols,
                                         title="Tickets found cheaply against the IMP winning ticket")
report.show_figure(fig, profile, "accuracy_cheap_tickets")

# %% [markdown]
# Lines are means over seeds with 95% t-interval bands where three or more seeds give one; the
# legend gives each arm's number of seeds, and a line from a single seed is dashed.  The dotted
# grey line is the dense network's mean over the seeds shown.
# Below, the IMP winning ticket minus each other arm on the same seed, per pruned level (points,
# 95% CI): an interval above zero means the cheaper mask lost accuracy beyond seed noise.

# %%
report.show_paired_differences(results.runs, profile, sel.arms, protocols=sel.protocols)

# %% [markdown]
# ## What each mask cost
#
# The price of a mask is the training it took to find it: IMP pays for the dense network and
# every earlier level; random pruning and the scores at initialisation pay nothing but a few
# scoring passes; an early-bird mask pays the dense epochs until it settled.  Training the
# pruned network itself costs the same for every arm.  In the figure, arms whose masks all cost
# the same (no search) share one x: they are drawn side by side on a shaded strip centred on it.

# %%
price = ticket_price.price_table(results.runs, sel.arms)
report.say(narrative.describe_price(price, sel.protocols))
report.show_table(price, profile, "ticket_price", protocols=sel.protocols)
report.show_figure(figures.plot_price(price, protocols=sel.protocols), profile, "ticket_price")

# %% [markdown]
# ## Early-bird tickets: when did the mask settle?

# %%
early = ticket_price.early_bird_table(results.runs)
report.say(narrative.describe_early_bird(early, sel.protocols))
report.show_table(early, profile, "early_bird_timing", protocols=sel.protocols)
fig = figures.plot_mask_distance(ticket_price.mask_distances(results.mask_distance),
                                 epsilon=sel.config_value("early_bird_epsilon"), protocols=sel.protocols)
report.show_figure(fig, profile, "early_bird_distance")

# %% [markdown]
# Each line is one target sparsity (one pruning level): the distance between the magnitude masks
# of consecutive dense epochs, averaged over seeds.  The mask counts as settled once it stays at
# or below the dashed ε over the window; with few epochs per level (the CPU profiles) it may
# never settle, and then the last epoch's mask is used, at the full dense price.
#
# ## Layer collapse
#
# A layer collapses when no surviving weight carries the input to it (a tensor pruned away, a
# filter or gate row with nothing left that the input reaches); the network collapses when no
# path is left from the tokens to the logits.  With the study's "prune every parameter", biases
# and the output layer are pruned too: a pruned bias only loses its offset (no collapse), and a
# binary task's one-element output bias, once pruned, leaves the decision threshold at logit 0.

# %%
collapse = ticket_price.collapse_table(results.collapse, results.runs)
critical = ticket_price.critical_sparsity(collapse)
report.say(narrative.describe_collapse(critical, sel.protocols))
report.show_table(critical, profile, "critical_sparsity", protocols=sel.protocols)
report.show_table(collapse, profile, "layer_collapse", protocols=sel.protocols)

# %% [markdown]
# The critical sparsity is the smallest share of weights pruned at which any seed's mask leaves a
# layer unreachable; "no layer collapses up to X%" means none did at any level checked.
# Reachability is necessary for signal, not sufficient: SynFlow's scores on an LSTM can vanish
# (all-positive weights saturate the gates; see `lthlib/nets/scores.py`), so a mask can stay connected
# and still train no better than chance.  The accuracy figure above shows whether it did.

# %%
report.closing(sel, status)
