"""lthlib: the Lottery Ticket Hypothesis on text classification.

One module per idea, imports running one way (each line imports only from lines above it):

    config      typed hyper-parameters, run keys (what defines a result), paths
    registry    named entries (datasets, models, arms, profiles); LTH_PLUGINS
    files       atomic writes, JSON / torch files, CPU state dicts
    sources     official files: checksums, the offline mirror, the download cache, downloads
    datasets    one entry per dataset: files, parser, classes, split protocols, study numbers
    data        tokenizer, vocabulary, encoded splits, the fingerprinted processed cache
    embeddings  GloVe 6B vectors -> a matrix for a vocabulary
    models      one entry per model (Kim CNN, LSTM/GRU/RNN classifier) and its initialisation
    masks       prunable tensors, magnitude and random masks, fused mask application
    scores      pruning at initialisation: SNIP, GraSP, SynFlow
    collapse    layer collapse: which masked layers the input still reaches
    early_bird  early-bird masks: the mask distance over training and its stopping rule
    train       the one training loop (device-resident length-bucketed batches, checkpoints)
    store       results/<profile>/runs/<run hash>/ and the tidy tables
    arms        one entry per arm: where its mask comes from, what survivors are reset to
    profiles    smoke / quick / paper presets and experiment()
    mask_sources  a branch's mask from a score of θ0 or an early-bird search
    executor    worker processes that never re-import the caller's script
    lottery     the runner: trunks and branches level by level, resumable; the grid
    determinism, deviations, carry, campaign, bundle   a GPU campaign in time-boxed commands:
                data carried to a bare machine, prioritised resumable work, a bundle of tables
    baselines, concurrent   the benchmark's reference methods and vmapped CNN training
    stats, labels, selection, tables, ticket_price, figures, narrative, data_summary,
    model_summary, report   the report layer the notebooks call
    cli         the `lth` command
"""
__version__ = "0.1.0"
