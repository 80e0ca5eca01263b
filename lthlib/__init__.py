"""lthlib: the Lottery Ticket Hypothesis on text classification.

One module per idea, data flowing one way:

    config      typed hyper-parameters, the profiles smoke/quick/paper, fingerprints
    data        official files (download or LTH_DATA_MIRROR, checksummed), parsing, splits,
                tokenizer, vocabulary, the processed cache, the synthetic dataset
    embeddings  GloVe 6B vectors -> a matrix for a vocabulary
    models      Kim CNN and the recurrent classifier, their initialisation
    masks       prunable tensors, magnitude and random masks, fused mask application
    train       the one training loop (device-resident length-bucketed batches, checkpoints)
    lottery     the arms: IMP trunks and their branches, level by level, resumable
    store       results/<profile>/runs/<config hash>/ and the tidy tables
    report      the study-view and sound-view tables, confidence intervals, figures
"""
__version__ = "0.1.0"
