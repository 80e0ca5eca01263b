"""One index space for several datasets (``DataConfig.shared_vocab``), on two small datasets
registered here: a big one and a small one whose texts are made in code."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pytest
import torch

from lthlib.core.config import ConfigError, DataConfig, ExperimentConfig, data_hash, fingerprint, run_key
from lthlib.core.parameters import parse
from lthlib.data import prepare as data
from lthlib.data.datasets import DATASETS, Dataset, Protocol, RawExample, given_split
from lthlib.data.prepare import UNK, Vocab, prepare
from lthlib.experiment import profiles

# relative frequencies in each training split: big alpha .5, beta .4, gamma .1; small delta .75,
# gamma .25.  Summed: delta .75 > alpha .5 > beta .4 > gamma .35, though big's raw counts are
# alpha 175, beta 140, gamma 35 against small's delta 9, gamma 3.
BIG_TEXT = "alpha " * 5 + "beta " * 4 + "gamma"
SMALL_TEXT = "delta delta delta gamma"
SHARED = ("vocab_big/default", "vocab_small/default")


def _examples(text: str, n_pool: int, test_text: str) -> list[RawExample]:
    pool = [RawExample(text, i % 2, "train", (i,)) for i in range(n_pool)]
    return pool + [RawExample(test_text, i % 2, "test", (n_pool + i,)) for i in range(2)]


@pytest.fixture
def two_datasets(data_home):
    """vocab_big (50 pool rows of 10 tokens) and vocab_small (4 rows of 4), read from memory."""
    reads = Counter()

    def entry(name: str, examples: list[RawExample]) -> Dataset:
        def read(cfg, protocol, progress):
            reads[name] += 1
            return examples
        return Dataset(name, name.title(), classes=lambda cfg: ["neg", "pos"], read=read,
                       protocols=(Protocol("default", (), given_split),))
    DATASETS.register(entry("vocab_big", _examples(BIG_TEXT, 50, "alpha omega")))
    DATASETS.register(entry("vocab_small", _examples(SMALL_TEXT, 4, "delta beta")))
    yield reads
    for name in ("vocab_big", "vocab_small"):
        DATASETS.unregister(name)


def shared(name: str, **kw) -> DataConfig:
    return DataConfig(dataset=name, protocol="default", val_fraction=0.25, shared_vocab=SHARED, **kw)


def words(itos: list[str]) -> list[str]:
    return itos[2:]


def test_a_word_has_one_id_in_every_member(two_datasets):
    big, small = prepare(shared("vocab_big"), progress=False), prepare(shared("vocab_small"), progress=False)
    assert big.vocab.itos == small.vocab.itos
    gamma = big.vocab.stoi["gamma"]
    assert gamma in big.train.tokens.tolist() and gamma in small.train.tokens.tolist()
    assert small.train.example(0).tolist() == small.vocab.encode(SMALL_TEXT.split())
    assert small.test.example(0).tolist() == [small.vocab.stoi["delta"], small.vocab.stoi["beta"]]
    assert big.test.example(0).tolist() == [big.vocab.stoi["alpha"], UNK]   # 'omega': test only
    alone = prepare(DataConfig(dataset="vocab_small", protocol="default", val_fraction=0.25), progress=False)
    assert words(alone.vocab.itos) == ["delta", "gamma"] and alone.vocab.itos != small.vocab.itos


def test_ranking_sums_relative_frequencies_so_each_dataset_weighs_the_same(two_datasets):
    big = prepare(shared("vocab_big"), progress=False)
    assert words(big.vocab.itos) == ["delta", "alpha", "beta", "gamma"]
    alone = prepare(DataConfig(dataset="vocab_big", protocol="default", val_fraction=0.25), progress=False)
    assert words(alone.vocab.itos) == ["alpha", "beta", "gamma"]            # raw counts
    capped = prepare(shared("vocab_big", max_vocab=2), progress=False)     # the cap at load
    assert capped.vocab.itos == ["<pad>", "<unk>", "delta", "alpha"]


def test_vocab_shared_is_exact_and_breaks_ties_by_the_word():
    ranked = Vocab.shared([Counter(x=90, y=10), Counter(z=3, y=1)])        # x .9, z .75, y .1 + .25
    assert words(ranked.itos) == ["x", "z", "y"]
    tied = Vocab.shared([Counter(b=1, a=1), Counter(d=2, c=2)])            # all .5
    assert words(tied.itos) == ["a", "b", "c", "d"]
    thirds = Vocab.shared([Counter(p=1, q=2), Counter(r=1, s=1, t=1)])    # p 1/3 == r, s, t 1/3
    assert words(thirds.itos) == ["q", "p", "r", "s", "t"]


def test_every_members_cache_is_written_at_once_and_keyed_by_all_members(two_datasets, monkeypatch):
    big = prepare(shared("vocab_big"), progress=False)
    count = data.PARSE_COUNT
    reads = dict(two_datasets)
    small = prepare(shared("vocab_small"), progress=False)                # written with big's
    again = prepare(replace(shared("vocab_big"), shared_vocab=SHARED[::-1]), progress=False)
    assert data.PARSE_COUNT == count and dict(two_datasets) == reads
    assert small.timings["cached"] and again.timings["cached"]
    assert again.corpus_fingerprint == big.corpus_fingerprint              # the order is no matter
    key = data.corpus_key(shared("vocab_big"))
    assert [member["dataset"] for member in key["shared_vocab"]] == ["vocab_big", "vocab_small"]
    own = DataConfig(dataset="vocab_big", protocol="default", val_fraction=0.25)
    assert {k: v for k, v in key.items() if k != "shared_vocab"} == data.corpus_key(own)
    assert data.data_fingerprint(own) != big.fingerprint
    assert big.fingerprint != data.data_fingerprint(shared("vocab_big", split_seed=1))


def test_a_config_whose_own_dataset_is_not_a_member_is_refused_before_reading(two_datasets, monkeypatch):
    def no_read(*args, **kwargs):
        raise AssertionError("read a source")
    monkeypatch.setattr(data, "load_examples", no_read)
    cfg = DataConfig(dataset="vocab_big", protocol="default", shared_vocab=("vocab_small/default", "imdb/study"))
    with pytest.raises(ConfigError, match=r"write shared_vocab=\('vocab_big/default', 'vocab_small/default'"):
        prepare(cfg, progress=False)
    for other, message in [("nope/default", "shared_vocab entry 'nope/default': unknown dataset"),
                            ("vocab_small/glue", "unknown protocol 'glue'"),
                            ("vocab_small", "'dataset/protocol'"),
                            ("vocab_big/default", "twice")]:
        with pytest.raises(ConfigError, match=message):
            prepare(replace(cfg, shared_vocab=("vocab_big/default", other)), progress=False)
    with pytest.raises(ConfigError, match="unknown dataset"):                # before any training
        profiles.validate(ExperimentConfig(data=replace(cfg, shared_vocab=("vocab_big/default", "nope/x"))))


def test_the_default_leaves_every_existing_key_as_it_was(data_home):
    # pinned before shared_vocab existed (no mirror: IMDb's key holds its official md5)
    assert data.data_fingerprint(DataConfig(dataset="synthetic", protocol="default")) == "b6b7c5a3e0c0aabd"
    assert data.data_fingerprint(DataConfig(dataset="imdb", protocol="study")) == "46b9bfaf960ca69e"
    assert "shared_vocab" not in data.corpus_key(DataConfig(dataset="imdb", protocol="study"))
    assert data_hash(DataConfig()) == "9944f9f54140"                        # runs.csv's data_hash
    assert data_hash(DataConfig(dataset="synthetic", protocol="default", max_len=64)) == "cbfc1e65c088"
    assert data_hash(DataConfig(shared_vocab=("imdb/study", "sst2/glue"))) != data_hash(DataConfig())
    assert "shared_vocab" not in run_key(ExperimentConfig())["data"]


def test_shared_vocab_is_a_parameter_and_survives_a_stored_config():
    assert parse("shared_vocab", '["imdb/study", "sst2/glue"]') == ("imdb/study", "sst2/glue")
    assert parse("shared_vocab", "()") == ()
    cfg = ExperimentConfig(data=DataConfig(shared_vocab=("imdb/study", "sst2/glue")))
    assert run_key(cfg)["data"]["shared_vocab"] == ["imdb/study", "sst2/glue"]
    back = ExperimentConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg and fingerprint(back) == fingerprint(cfg)
    assert ExperimentConfig.from_dict(json.loads(json.dumps(ExperimentConfig().to_dict()))) == ExperimentConfig()


def test_train_word_ids_are_the_rows_training_reads(two_datasets):
    small = prepare(shared("vocab_small"), progress=False)
    ids = small.train_word_ids()
    assert ids.dtype == torch.int64 and ids.tolist() == sorted({small.vocab.stoi[w] for w in ("delta", "gamma")})
    never = sorted(set(range(2, len(small.vocab))) - set(ids.tolist()))     # rows small never trains
    assert [small.vocab.itos[i] for i in never] == ["alpha", "beta"]
    capped = prepare(shared("vocab_small", max_vocab=1), progress=False)   # gamma -> <unk>
    assert capped.train_word_ids().tolist() == [UNK, capped.vocab.stoi["delta"]]
    one = prepare(shared("vocab_big", train_subsample=1, max_len=3), progress=False)
    assert one.train_word_ids().tolist() == [one.vocab.stoi["alpha"]]
