"""The data wing: from official files to token ids and embedding matrices.

    sources     official files: checksums, the offline mirror, the download cache, downloads
    datasets    one registry entry per dataset: files, parser, classes, split protocols, study numbers
                (a package: the entry type and protocols, one module per corpus)
    vocabulary  the word tokenizer and the vocabulary (what every model trained from scratch reads)
    pretrained  a pretrained Transformer installed as a package: its files, checksums, WordPiece
    prepare     tokenised text -> encoded splits, the fingerprinted processed cache
    embeddings  GloVe 6B vectors -> a matrix for a vocabulary

May import: :mod:`lthlib.core`, :mod:`lthlib.machine`.
"""
