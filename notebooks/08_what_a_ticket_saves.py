# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 08 · What a ticket saves
#
# **Question.** A winning ticket keeps a fraction of the weights.  What does that buy once the
# network leaves the lab: how small is it on disk, how fast does it run on a CPU, and what does
# each deployable form cost in accuracy?
#
# Every trained level of the winning ticket (and the dense network, level 0) of one seed per
# dataset × model is exported as `lth export` writes it (`lthlib/deploy`): a sparse checkpoint
# (the surviving values and their positions, fp32 and fp16, safetensors), an ONNX graph (dense,
# the pruned weights stored as zeros) and onnxruntime's dynamic int8 version of it, each also
# compressed with zstd.  Each form is measured against the dense fp32 checkpoint (`torch.save` of
# the state dict): bytes on disk, test and validation accuracy, agreement with the stored
# network's predictions, and latency on **one CPU thread** at batch 1 and 64 (p50 and p95 over
# repeated calls after a warm-up, on seeded random test examples the same for every form).
# Theoretical FLOPs per example, dense and skipping zeros, are counted by the formula in
# `lthlib.deploy.measure.flops` (each weight twice per use, each bias once, averaged over the
# test set's examples at their own lengths).

# %%
# %matplotlib inline
from lthlib.deploy.measure import measure_savings
from lthlib.report import figures, narrative, savings
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
seeds = None               # the first is measured; None: the winning ticket's first seed per dataset
levels = None              # pruning levels after the dense level 0
prune_fraction = None      # share of the remaining weights pruned per level
epochs = None              # training epochs per level
prunable = None            # 'all' (weights and biases, as the study) or 'weights'
executor = None            # where training runs: local (default) | ray | slurm (lth run has their options)
protocol = None            # split protocol: one name, or per-dataset pairs as README shows

# %%
sel = report.selection(profile, datasets=datasets, models=models, seeds=seeds, arms=[report.TICKET],
                       **report.parameters(globals()))
status = report.run_arms(sel)
saved = measure_savings(sel)
best = savings.best_tickets(saved.forms)
summary = savings.savings_summary(saved.levels, saved.forms)
report.answer(narrative.savings_headline(summary, best, sel.protocols))

# %% [markdown]
# ## Export and measure

# %%
report.note(f"exported and measured {len(saved.levels)} networks in {saved.seconds:.0f} s; "
            "measured with " + ", ".join(f"{name} {value}" for name, value in saved.settings.items()))
report.say(narrative.describe_exported_weights(saved.levels, saved.forms))
report.show_table(saved.levels, profile, "deploy_levels", protocols=sel.protocols)
report.show_table(saved.forms, profile, "deploy_forms", digits=4, protocols=sel.protocols)

# %% [markdown]
# `deploy_levels`: per level, parameters and non-zeros (with and without the embedding, pruned
# with the rest unless `include_embedding` is off), FLOPs per example dense and skipping zeros,
# and the stored accuracies.  `deploy_forms`: per level and form, bytes (and with zstd), accuracy,
# agreement of the test predictions with the stored network's (1 for the fp32 forms), the
# largest logit difference, and latency.  The fp32 forms hold the stored weights; the fp16
# checkpoint and int8 ONNX round them.
#
# ## Size on disk against accuracy

# %%
report.show_table(savings.size_table(saved.forms), profile, "deploy_sizes", protocols=sel.protocols)
report.show_figure(figures.plot_size_accuracy(saved.forms, protocols=sel.protocols), profile,
                   "deploy_size_accuracy")

# %% [markdown]
# Filled points: the file compressed with zstd; hollow: as written; the stars: the dense
# network's forms (level 0).  The dense `torch.save` checkpoint and the ONNX graph store every
# pruned zero, so they shrink with the level only once compressed; the sparse checkpoints store
# the survivors alone.
#
# ## Latency on one CPU thread against accuracy

# %%
report.show_table(savings.latency_table(saved.forms), profile, "deploy_latency", protocols=sel.protocols)
report.show_figure(figures.plot_latency_accuracy(saved.forms, 1, protocols=sel.protocols), profile,
                   "deploy_latency_b1")
report.show_figure(figures.plot_latency_accuracy(saved.forms, 64, protocols=sel.protocols), profile,
                   "deploy_latency_b64")

# %% [markdown]
# Points: the median latency of one call (p50), the bar reaching p95; labels: % of the prunable
# weights remaining.  PyTorch with CSR weights differs from dense PyTorch in the Linear layers
# only: an embedding lookup gains nothing from a sparse matrix, and `conv1d` and `nn.LSTM` take
# dense weights only.  No runtime here skips the zeros in the convolutions or the recurrence.
#
# ## The best deployable ticket within the accuracy budget

# %%
report.show_table(best, profile, "deploy_best", protocols=sel.protocols)

# %% [markdown]
# A level and form is deployable when its validation accuracy, measured on that form, is at most
# one point below the dense network's (the same seed's dense fp32 network, level 0): the test set
# chooses nothing.  *smallest* minimises the bytes with zstd, *fastest* the batch-1 p50.  Dense
# itself always qualifies, so a pair whose pruned levels all lose more than a point answers
# "dense".
#
# ## What sparsity buys on this CPU, and what it does not

# %%
report.show_table(summary, profile, "deploy_summary", protocols=sel.protocols,
                  columns=savings.SHOWN_SUMMARY_COLUMNS)
report.say(narrative.describe_savings(summary, best, sel.protocols))

# %% [markdown]
# The winning ticket's levels are notebook 03's; this trains only what the store lacks (nothing,
# after notebook 03).

# %%
report.closing(sel, status)
