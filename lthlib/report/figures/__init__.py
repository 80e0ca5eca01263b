"""The report's figures (matplotlib with seaborn's style), one panel per dataset × model.

Each function takes the store's tidy tables (or a table made from them) and returns a Figure;
an input with nothing to draw gives a small figure that says so.  Panels are titled by
:func:`lthlib.report.labels.pair_label` under the datasets' protocols (``protocols``, else the frame's
``protocol`` column).  Accuracies are drawn in %.  Notebooks call them as ``figures.plot_...``.

    panels     what every figure shares: the panel grid, the weights-remaining axis, seed counts
               in legends, t-interval bands, the shared legend, the empty figure
    accuracy   accuracy against weights remaining; paired differences; confusion matrices;
               accuracy against the epochs a ticket cost
    curves     accuracy per training epoch; the early-stopping epoch at every level; each arm's
               learning curve at one level (does a ticket learn faster?)
    sparsity   weights remaining per tensor; mask overlap; early-bird mask distances
    footprint  size on disk and CPU latency against accuracy, per deployable form (notebook 08)
"""
from .accuracy import plot_accuracy_vs_remaining, plot_confusion, plot_paired_differences, plot_price
from .curves import LEARNING_ARMS, plot_early_stopping, plot_learning_curves, plot_training_curves
from .footprint import FORM_COLORS, plot_latency_accuracy, plot_size_accuracy
from .panels import MIN_BAND_SEEDS, arm_seed_labels, plain_log_ticks, seeds_text
from .sparsity import OVERLAP_COLORS, OVERLAP_REFERENCES, plot_layer_remaining, plot_mask_distance, plot_mask_overlap

__all__ = ["FORM_COLORS", "LEARNING_ARMS", "MIN_BAND_SEEDS", "OVERLAP_COLORS", "OVERLAP_REFERENCES",
           "arm_seed_labels", "plain_log_ticks", "plot_accuracy_vs_remaining", "plot_confusion",
           "plot_early_stopping", "plot_latency_accuracy", "plot_layer_remaining", "plot_learning_curves",
           "plot_mask_distance", "plot_mask_overlap", "plot_paired_differences", "plot_price", "plot_size_accuracy",
           "plot_training_curves", "seeds_text"]
