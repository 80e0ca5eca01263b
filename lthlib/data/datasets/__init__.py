"""The datasets, one registered entry each: files, parser, classes, split protocols, defaults.

    entry      the :class:`Dataset` entry and its registry, raw examples, split protocols
               (given, pooled, stratified), reading a protocol's files, :func:`load_examples`
    imdb       IMDb: the aclImdb archive's parser; protocols ``study`` and ``canonical``
    ag_news    AG News: the CSV parser and its escapes; protocols ``official`` and ``test_resplit``
    sst2       SST-2 (GLUE): the tsv parser; protocol ``glue``
    synthetic  the generated corpora (``synthetic`` and its transfer partners), no files
    pipeline   how a row of a dataset's files becomes text and label (fields, cleaning, labels,
               row ids), as data: each entry carries one, and a deployed ticket's manifest too

Each corpus module registers its files (:data:`lthlib.data.sources.SOURCES`) and its entry
(:data:`DATASETS`) when imported; they are imported here in the order the entries are listed
(imdb, ag_news, sst2, synthetic), which is the order of every listing and default.
"""
# the corpora register their entries in this order: imdb, ag_news, sst2, synthetic
# isort: off
from .entry import (DATASETS, STUDY_TABLES, Dataset, Protocol, RawExample, Split, StudyNumbers, dataset,
                    given_split, load_examples, permutation, pooled_split, read_files, stratified_split)
from .imdb import read_imdb
from .ag_news import clean_ag_news, read_ag_news
from .sst2 import read_sst2
from .synthetic import SYNTHETIC_MIX, SYNTHETIC_SIZES, SYNTHETIC_VERSION, synthetic_corpus
# isort: on

__all__ = ["DATASETS", "STUDY_TABLES", "SYNTHETIC_MIX", "SYNTHETIC_SIZES", "SYNTHETIC_VERSION", "Dataset",
           "Protocol", "RawExample", "Split", "StudyNumbers", "clean_ag_news", "dataset", "given_split",
           "load_examples", "permutation", "pooled_split", "read_ag_news", "read_files", "read_imdb",
           "read_sst2", "stratified_split", "synthetic_corpus"]
