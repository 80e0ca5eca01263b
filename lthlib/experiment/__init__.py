"""The experiment wing: what one run is, how it trains, where it is kept, and the grid of runs.

    arms      one registry entry per arm: the mask strategy and the start strategy it composes
    branches  those strategies (``mask_sources``, ``starts``) and the ``context`` the runner hands them
    profiles  smoke / quick / paper presets and ``experiment()``, one cell's configuration
    recipe    the dense recipe (learning rate, weight decay) swept and chosen on validation
    train     the one training loop (masks through Adam, evaluation, checkpoints)
    batches   device-resident padded batches of a split (length-bucketed for training)
    store     results/<profile>/runs/<run hash>/ and the tidy tables
    lineage   which run folders a configuration reads and writes (dense, trunk, its own)
    level     one level: what it trains, and the metrics.json (runs.csv row) it leaves
    runner    trunks and branches level by level, resumable (one configuration)
    progress  the bar of networks trained and left, counted on the store
    execution the one way to train a grid: data check, executor by name, collect, status rows;
              and what every grid of cells shares
    grid      the cells of a selection: their configurations, status rows, and running them
    transfer  tickets across datasets: the transfer study's cells (source -> target), trunks first,
              then target arms
    families  every model family of the plan: the family study's grids (GRU, RNN; a pretrained
              encoder), through the primary arms
    overlap   mask overlap across seeds and levels (where the masks are); ``PAIR``, the key of
              one panel and of most tables

May import: :mod:`lthlib.core`, :mod:`lthlib.machine`, :mod:`lthlib.data`, :mod:`lthlib.nets`.
"""
