"""The networks wing: models, masks, and the scores masks are drawn from.

    models      a package: one module per model (Kim CNN, LSTM/GRU/RNN classifier, a pretrained
                BERT encoder), each with its registry entry and hooks (initialisation rule, collapse
                reach, FLOP uses, export); the seeded initialisation, the classification loss
    masks       prunable tensors; scores -> masks (the one place, local or global); magnitude and
                random masks; fused mask application
    scores      pruning-at-initialisation scores: SNIP, GraSP, SynFlow
    early_bird  early-bird masks: the mask distance over dense training and its stopping rule
    collapse    layer collapse: which masked layers the input still reaches

May import: :mod:`lthlib.core`, :mod:`lthlib.machine`, :mod:`lthlib.data`.
"""
