"""The core wing: what a run is made of, below everything else.

    config      typed settings (data, model, train, prune, arm fields), run keys, fingerprints,
                derived seeds
    parameters  every setting a notebook, ``lth --set``, ``run_all.sh -p`` or a profile may change,
                derived from config's fields, and the one typed parser of their values
    registry    named entries of one kind (datasets, models, arms, profiles); plugins

May import: nothing of lthlib.
"""
