"""The experiment wing: what one run is, how it trains, where it is kept, and the grid of runs.

    arms      one registry entry per arm: where its mask comes from, what survivors are reset to
    profiles  smoke / quick / paper presets and ``experiment()``, one cell's configuration
    train     the one training loop (device-resident length-bucketed batches, checkpoints)
    store     results/<profile>/runs/<run hash>/ and the tidy tables
    runner    trunks and branches level by level, resumable (one configuration)
    grid      the cells of a selection: their configurations, status rows, and running them

May import: :mod:`lthlib.core`, :mod:`lthlib.machine`, :mod:`lthlib.data`, :mod:`lthlib.nets`.
"""
