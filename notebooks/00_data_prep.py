# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · Data preparation
#
# **Question.** What exactly do the models train and get evaluated on?  For each dataset of the
# profile: the split sizes (train / validation / test), the class balance, how long the texts are
# in tokens, the vocabulary each model uses, and how much of it GloVe covers.
#
# Sources are the official files (or the offline mirror named by `LTH_DATA_MIRROR`), checked
# against pinned checksums; a dataset whose files cannot be had is reported as not prepared, with
# the reason.  All logic lives in `lthlib.report.data_summary`, `lthlib.data.prepare` and `lthlib.data.embeddings`.

# %%
# %matplotlib inline
from lthlib.data.sources import require_prepared
from lthlib.report import data_summary
from lthlib.report import notebook as report

# %% tags=["parameters"]
# In JupyterLab: set the values below and run all cells; training and tables go to
# results/<profile>-scratch/ (`%env LTH_READ_COMMITTED=1` first: read the committed results,
# train nothing; README "Exploring in JupyterLab").  From a shell: papermill -p name value.
# None = the profile's value.  Every configuration
# parameter (`lth parameters` lists them) may be given with -p, listed here or not.
profile = "smoke"   # smoke | quick | paper
datasets = None     # e.g. '["imdb"]'
models = None       # e.g. 'cnn,lstm'
protocol = None     # split protocol: one name, or per-dataset pairs as README shows

# %%
sel = report.selection(profile, datasets=datasets, models=models,
                       **report.parameters(globals()))
prepared = report.noting_output(data_summary.prepare_all, sel)
summary = data_summary.summarise(prepared.data, prepared.model_info, prepared.unavailable)
report.answer(data_summary.describe_splits(summary))

# %%
report.noting_output(data_summary.save_summary, summary, profile)
report.show_table(data_summary.without_notes(summary), protocols=sel.protocols)
report.say(data_summary.describe_coverage(summary))

# %% [markdown]
# The table has one row per dataset × split: `shown_as` is how the dataset is named under its
# split protocol everywhere in the report; `n` and `n_class_<c>` (class order in `class_names`),
# token lengths (mean, median, 95th percentile) as the models see them (after `max_len`
# truncation and, for train, `train_subsample`), `vocab_<model>` (the training-split vocabulary
# capped at the model's `max_vocab`, plus `<pad>` and `<unk>`), and for GloVe models
# `coverage_<model>`, the share of that vocabulary found in GloVe 6B (missing, with the reason
# printed below the table, when the vectors are not available).

# %%
report.show_figure(data_summary.plot_lengths(prepared.data), profile, "data_lengths")

# %% [markdown]
# The length figure shows, per dataset, the distribution of example lengths in tokens (log
# scale, density per split).  Train, validation and test should overlap closely, since the
# splits are random draws from the same pool (or the official splits); a long right tail (IMDb)
# is what makes length bucketing and `max_len` matter for the recurrent models.
#
# A selected dataset whose files could not be had stops the report here, with the data layer's
# message (the summary above still lists it).  Leave it out with the `datasets` parameter, e.g.
# `./run_all.sh -p datasets '["imdb"]'`; the later notebooks then say it was left out, and why.

# %%
require_prepared(prepared.unavailable)

# %%
report.closing(sel)
