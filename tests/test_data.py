"""The data layer on tiny files made in code (no network), plus the real IMDb when shared/ is there."""
from __future__ import annotations

import hashlib
import time
from dataclasses import replace

import pytest
import torch

from lthlib.core.config import ConfigError, DataConfig
from lthlib.core.registry import Registry
from lthlib.data import datasets, sources
from lthlib.data import prepare as data
from lthlib.data.datasets import clean_ag_news
from lthlib.data.prepare import PAD, UNK, EncodedSplit, Vocab, prepare, tokenize
from lthlib.data.sources import ChecksumError, CorruptSource, DataUnavailable
from lthlib.report import data_summary

from conftest import AG_TRAIN, IMDB_REVIEWS, SHARED_DATA, imdb_targz, write_mirror

IMDB = "imdb/aclImdb_v1.tar.gz"


def texts(split: EncodedSplit, vocab: Vocab) -> set[tuple]:
    return {tuple(split.example(i).tolist()) + (int(split.labels[i]),) for i in range(len(split))}


# --- tokenizer and cleaning -------------------------------------------------------------------

def test_tokenize_lowercases_splits_punctuation_and_strips_br():
    assert tokenize("Don't MISS it!<br /><br />Great, (really).") == \
        ["don't", "miss", "it", "!", "great", ",", "(", "really", ")", "."]
    assert tokenize("<br/>") == [] and tokenize("") == []
    assert tokenize("O'Neill's 10/10") == ["o'neill's", "10", "/", "10"]


def test_clean_ag_news_undoes_escapes():
    assert clean_ag_news("A second\\team") == "A second team"
    assert clean_ag_news("won \\$10 prize") == "won $10 prize"
    assert clean_ag_news("end.\\\\The next") == "end. The next"
    assert clean_ag_news("it #39;s  #36;46 &amp; more &lt;TXN.N&gt;") == "it's $46 & more <TXN.N>"


# --- sources, mirror, download -----------------------------------------------------------------

def test_mirror_file_is_verified_and_read_in_place(tiny_mirror, data_home):
    path = sources.fetch(IMDB, progress=False)
    assert path == tiny_mirror / IMDB
    assert not (data_home / "raw" / IMDB).exists()
    assert sources.source_identity(IMDB).startswith("sha256:")


def test_mirror_checksum_mismatch_names_file_expected_and_got(tmp_path, monkeypatch, data_home):
    mirror = write_mirror(tmp_path / "m", {IMDB: imdb_targz()}, sums={IMDB: "0" * 64})
    monkeypatch.setenv("LTH_DATA_MIRROR", str(mirror))
    with pytest.raises(ChecksumError) as info:
        sources.fetch(IMDB, progress=False)
    message = str(info.value)
    assert IMDB in message and "expected" in message and "0" * 64 in message
    assert hashlib.sha256(imdb_targz()).hexdigest() in message


def test_download_checksum_mismatch_removes_temp_file(data_home, monkeypatch):
    def fake_download(url, out, progress=True):
        out.write(b"not the archive")
    monkeypatch.setattr(sources, "download", fake_download)
    with pytest.raises(ChecksumError) as info:
        sources.fetch(IMDB, progress=False)
    message = str(info.value)
    assert "aclImdb_v1.tar.gz" in message and "7c2ac02c03563afcf9b574c7e56c153a" in message
    assert hashlib.md5(b"not the archive").hexdigest() in message
    folder = data_home / "raw" / "imdb"
    assert list(folder.iterdir()) == []        # neither the temp file nor a bad final file


def test_download_verifies_and_moves_into_place(data_home, monkeypatch):
    payload = imdb_targz()
    source = sources.SOURCES.get(IMDB)
    patched = Registry("source file")
    for entry in sources.SOURCES:
        patched.register(entry)
    patched.register(replace(source, md5=hashlib.md5(payload).hexdigest()))
    monkeypatch.setattr(sources, "SOURCES", patched)
    calls = []

    def fake_download(url, out, progress=True):
        calls.append(url)
        out.write(payload)
    monkeypatch.setattr(sources, "download", fake_download)
    path = sources.fetch(IMDB, progress=False)
    assert path == data_home / "raw" / IMDB and path.read_bytes() == payload
    assert calls == [source.url]
    assert [p.name for p in path.parent.iterdir()] == ["aclImdb_v1.tar.gz"]
    sources.fetch(IMDB, progress=False)            # now from the download cache
    assert len(calls) == 1


def test_no_mirror_no_network_says_what_to_do(data_home, no_network):
    with pytest.raises(DataUnavailable) as info:
        prepare(DataConfig(dataset="imdb", protocol="canonical"), progress=False)
    message = str(info.value)
    assert IMDB in message and sources.SOURCES.get(IMDB).url in message and "LTH_DATA_MIRROR" in message
    assert isinstance(info.value, RuntimeError)


def test_ag_news_train_missing_from_mirror(tmp_path, monkeypatch, data_home, no_network):
    mirror = write_mirror(tmp_path / "m", {"ag_news/test.csv": b'"1","a","b"\n'})
    monkeypatch.setenv("LTH_DATA_MIRROR", str(mirror))
    with pytest.raises(DataUnavailable) as info:
        prepare(DataConfig(dataset="ag_news", protocol="official"), progress=False)
    message = str(info.value)
    assert "ag_news/train.csv" in message
    assert "76a0a2d2f92b286371fe4d4044640910a04a803fdd2538e0f3f29a5c6f6b672e" in message
    assert str(mirror) in message and "raw.githubusercontent.com" in message
    assert "test_resplit" in message      # the offline alternative is named


def test_ag_news_test_resplit_is_stratified_seeded_and_disjoint(tmp_path, monkeypatch, data_home, no_network):
    rows = "".join(f'"{1 + i % 4}","title {i}","word{i % 7} text {i}"\n' for i in range(400))
    mirror = write_mirror(tmp_path / "m", {"ag_news/test.csv": rows.encode()})
    monkeypatch.setenv("LTH_DATA_MIRROR", str(mirror))
    cfg = DataConfig(dataset="ag_news", protocol="test_resplit", val_fraction=0.25)
    prepared = prepare(cfg, progress=False)
    assert (len(prepared.train), len(prepared.val), len(prepared.test)) == (240, 80, 80)
    assert prepared.test.class_counts(4) == [20, 20, 20, 20]          # 20% of each class
    examples = datasets.load_examples(cfg, progress=False)
    index = data.split_indices(examples, cfg)
    assert not (set(index["train"]) | set(index["val"])) & set(index["test"])
    assert index == data.split_indices(examples, cfg)
    assert index["test"] != data.split_indices(examples, replace(cfg, split_seed=1))["test"]
    assert datasets.dataset("ag_news").display_name("test_resplit") == "AG News (official test set, re-split)"


@pytest.mark.parametrize("cfg, words", [
    (DataConfig(dataset="imbd"), ["imdb", "ag_news", "synthetic"]),
    (DataConfig(dataset="imdb", protocol="official"), ["study", "canonical"]),
])
def test_unknown_dataset_or_protocol_lists_valid_ones(data_home, cfg, words):
    with pytest.raises(ConfigError) as info:
        prepare(cfg, progress=False)
    assert all(w in str(info.value) for w in words)


@pytest.mark.parametrize("payload", [b"this is not a gzip file", imdb_targz()[:300]])
def test_corrupt_archive_is_a_clear_error(tmp_path, monkeypatch, data_home, payload):
    mirror = write_mirror(tmp_path / "m", {IMDB: payload})
    monkeypatch.setenv("LTH_DATA_MIRROR", str(mirror))
    with pytest.raises(CorruptSource, match="aclImdb"):
        prepare(DataConfig(dataset="imdb", protocol="canonical"), progress=False)


# --- parsing ----------------------------------------------------------------------------------

def test_read_imdb_keeps_only_labelled_reviews(tiny_mirror):
    examples = datasets.read_imdb(tiny_mirror / IMDB)
    assert len(examples) == len(IMDB_REVIEWS) == 20
    assert all("unlabelled" not in e.text for e in examples)
    assert [e.split for e in examples] == ["train"] * 10 + ["test"] * 10
    assert sum(e.label for e in examples) == 10
    first = examples[0]
    assert first.label == 0 and first.text == "A terrible film. Boring!"


def test_read_ag_news_quotes_commas_escapes(tiny_mirror):
    rows = datasets.read_ag_news(tiny_mirror / "ag_news/train.csv", "train")
    assert len(rows) == AG_TRAIN.count("\n") == 6
    assert [r.label for r in rows] == [2, 1, 0, 3, 2, 0]
    assert rows[0].text.startswith("Wall St. Bears Claw Back Into the Black (Reuters) Reuters - Short-sellers,")
    assert "dwindling band" in rows[0].text
    assert rows[1].text == 'Phelps wins, again ATHENS -- Michael Phelps won his $10 "gold" medal.'
    assert "Paris. The talks ended 'early'. It isn't over." in rows[2].text
    assert "$46 a barrel" in rows[4].text


def test_ag_news_prepare_official(tiny_mirror):
    prepared = prepare(DataConfig(dataset="ag_news", protocol="official", val_fraction=0.5), progress=False)
    assert (len(prepared.train), len(prepared.val), len(prepared.test)) == (3, 3, 2)
    assert prepared.class_names == ["World", "Sports", "Business", "Sci/Tech"]
    assert prepared.n_classes == 4


# --- splits, vocabulary, encoding ---------------------------------------------------------------

def test_canonical_and_study_split_sizes_disjoint_and_seeded(tiny_mirror):
    canonical = prepare(DataConfig(dataset="imdb", protocol="canonical"), progress=False)
    assert (len(canonical.train), len(canonical.val), len(canonical.test)) == (7, 3, 10)
    study = prepare(DataConfig(dataset="imdb", protocol="study"), progress=False)
    assert (len(study.train), len(study.val), len(study.test)) == (11, 5, 4)
    examples = datasets.read_imdb(tiny_mirror / IMDB)
    cfg = DataConfig(dataset="imdb", protocol="study")
    index = data.split_indices(examples, cfg)
    sets = [set(v) for v in index.values()]
    assert sum(map(len, sets)) == 20 and set.union(*sets) == set(range(20))
    assert index == data.split_indices(examples, cfg)
    assert index != data.split_indices(examples, replace(cfg, split_seed=1))
    canonical_index = data.split_indices(examples, replace(cfg, protocol="canonical"))
    assert all(examples[i].split == "test" for i in canonical_index["test"])


def test_vocab_from_train_only_capped_with_specials(tiny_mirror):
    full = prepare(DataConfig(dataset="imdb", protocol="canonical", max_vocab=10_000), progress=False)
    capped = prepare(DataConfig(dataset="imdb", protocol="canonical", max_vocab=5), progress=False)
    assert full.vocab.itos[:2] == ["<pad>", "<unk>"] and full.vocab.stoi["<unk>"] == UNK
    assert len(capped.vocab) == 7 and capped.vocab.itos == full.vocab.itos[:7]
    assert "zyzzyva" not in full.vocab.stoi                 # a test-only word
    # frequency order, ties broken by the word
    examples = datasets.read_imdb(tiny_mirror / IMDB)
    index = data.split_indices(examples, DataConfig(dataset="imdb", protocol="canonical"))
    from collections import Counter
    counts = Counter(t for i in index["train"] for t in tokenize(examples[i].text))
    expected = sorted(counts, key=lambda w: (-counts[w], w))
    assert full.vocab.itos[2:] == expected
    assert int(capped.train.tokens.max()) < 7 and int(capped.test.tokens.max()) < 7
    assert capped.fingerprint != full.fingerprint and capped.corpus_fingerprint == full.corpus_fingerprint
    assert Vocab(["<pad>", "<unk>", "a"]).encode(["a", "b"]) == [2, UNK]


def test_every_example_has_a_token_and_labels_are_classes(tiny_mirror):
    prepared = prepare(DataConfig(dataset="imdb", protocol="canonical", val_fraction=0.1), progress=False)
    for split in prepared.splits().values():
        assert split.tokens.dtype == torch.int32 and split.offsets.dtype == torch.int64
        assert split.labels.dtype == torch.int64 and set(split.labels.tolist()) <= {0, 1}
        assert int(split.lengths().min()) >= 1 and int(split.offsets[-1]) == len(split.tokens)
    all_examples = [prepared.train.example(i).tolist() for i in range(len(prepared.train))] + \
                   [prepared.val.example(i).tolist() for i in range(len(prepared.val))]
    assert [UNK] in all_examples                           # the "<br />" review
    assert PAD not in prepared.train.tokens.tolist()


def test_encoded_split_subset_and_truncated():
    split = EncodedSplit(torch.arange(2, 12, dtype=torch.int32), torch.tensor([0, 3, 4, 10]), torch.tensor([0, 1, 0]))
    assert split.lengths().tolist() == [3, 1, 6] and len(split) == 3
    sub = split.subset(torch.tensor([2, 0]))
    assert sub.tokens.tolist() == [6, 7, 8, 9, 10, 11, 2, 3, 4] and sub.offsets.tolist() == [0, 6, 9]
    assert sub.labels.tolist() == [0, 0] and sub.tokens.dtype == torch.int32
    short = split.truncated(2)
    assert short.tokens.tolist() == [2, 3, 5, 6, 7] and short.lengths().tolist() == [2, 1, 2]
    assert split.truncated(None) is split and split.truncated(100) is split
    assert split.capped(5).tokens.tolist()[:4] == [2, 3, 4, UNK]


def test_max_len_and_train_subsample_applied_on_load(tiny_mirror):
    base = DataConfig(dataset="imdb", protocol="canonical")
    full = prepare(base, progress=False)
    small = prepare(replace(base, max_len=2, train_subsample=4), progress=False)
    assert len(small.train) == 4 and len(small.val) == len(full.val)
    assert int(small.train.lengths().max()) <= 2 and int(small.test.lengths().max()) <= 2
    assert small.fingerprint == full.fingerprint
    assert texts(small.train, small.vocab) <= {tuple(full.train.example(i)[:2].tolist()) + (int(full.train.labels[i]),)
                                               for i in range(len(full.train))}


def test_cache_hit_does_not_parse_again(tiny_mirror, monkeypatch, data_home):
    cfg = DataConfig(dataset="imdb", protocol="study")
    first = prepare(cfg, progress=False)
    assert not first.timings["cached"]
    assert (data_home / "processed" / first.corpus_fingerprint / "data.pt").is_file()

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed the source again on a cache hit")
    monkeypatch.setattr(datasets.imdb, "read_imdb", no_parse)
    monkeypatch.setattr(datasets.entry, "fetch", no_parse)
    count = data.PARSE_COUNT
    second = prepare(cfg, progress=False)
    smaller = prepare(replace(cfg, max_vocab=3), progress=False)   # shares the tokenised corpus
    assert data.PARSE_COUNT == count and second.timings["cached"] and len(smaller.vocab) == 5
    assert torch.equal(first.train.tokens, second.train.tokens) and first.vocab.itos == second.vocab.itos
    assert first.fingerprint == second.fingerprint


def test_cache_key_follows_sources_and_split(tiny_mirror):
    cfg = DataConfig(dataset="imdb", protocol="study")
    key = data.corpus_key(cfg)
    assert key["sources"][IMDB].startswith("sha256:") and key["tokenizer"] == data.TOKENIZER_VERSION
    assert data.data_fingerprint(cfg) != data.data_fingerprint(replace(cfg, split_seed=1))
    assert data.data_fingerprint(cfg) != data.data_fingerprint(replace(cfg, val_fraction=0.2))
    assert data.data_fingerprint(cfg) == data.data_fingerprint(replace(cfg, max_len=10, train_subsample=3))


# --- synthetic ----------------------------------------------------------------------------------

@pytest.mark.parametrize("n_classes", [2, 4])
def test_synthetic_is_deterministic_sized_and_learnable(data_home, n_classes):
    cfg = DataConfig(dataset="synthetic", protocol="default", max_vocab=2_000, val_fraction=0.2,
                     synthetic_classes=n_classes)
    prepared = prepare(cfg, progress=False)
    assert (len(prepared.train), len(prepared.val), len(prepared.test)) == (2_400, 600, 1_000)
    assert prepared.n_classes == n_classes
    lengths = prepared.train.lengths()
    assert int(lengths.min()) >= 5 and int(lengths.max()) >= 55 and float(lengths.float().std()) > 10
    again, _ = datasets.synthetic_corpus(n_classes, 0)
    first, _ = datasets.synthetic_corpus(n_classes, 0)
    assert [e.text for e in again] == [e.text for e in first]
    counts = torch.bincount(prepared.train.labels, minlength=n_classes)
    assert int(counts.min()) > 0.7 * len(prepared.train) / n_classes
    # multinomial naive Bayes on bags of words: well above chance, below perfect
    V = len(prepared.vocab)

    def bags(split):
        rows = torch.repeat_interleave(torch.arange(len(split)), split.lengths())
        out = torch.zeros(len(split), V)
        out.index_put_((rows, split.tokens.long()), torch.ones(len(split.tokens)), accumulate=True)
        return out
    train_bags, test_bags = bags(prepared.train), bags(prepared.test)
    class_words = torch.stack([train_bags[prepared.train.labels == c].sum(0) for c in range(n_classes)]) + 1
    log_p = (class_words / class_words.sum(1, keepdim=True)).log()
    accuracy = float(((test_bags @ log_p.T).argmax(1) == prepared.test.labels).float().mean())
    assert 0.75 < accuracy < 0.99, accuracy


# --- summaries ----------------------------------------------------------------------------------

def test_summarise_and_plot_lengths(data_home):
    import matplotlib
    matplotlib.use("Agg")
    from lthlib.core.config import ModelConfig
    prepared = prepare(DataConfig(dataset="synthetic", protocol="default", val_fraction=0.2), progress=False)
    info = {"synthetic": data_summary.model_columns("cnn", prepared, ModelConfig(name="cnn", embed_dim=16))}
    table = data_summary.summarise({"synthetic": prepared}, info, {"ag_news": "no train.csv"})
    assert table["split"].tolist() == ["train", "val", "test", "-"]
    assert table["n"].tolist()[:3] == [2_400, 600, 1_000]
    assert (table["n_class_0"][:3] + table["n_class_1"][:3]).tolist() == [2_400, 600, 1_000]
    assert table["vocab_cnn"].iloc[0] == len(prepared.vocab)
    assert table["status"].iloc[-1] == "unavailable: no train.csv"
    assert {"mean_len", "median_len", "p95_len"} <= set(table.columns)
    figure = data_summary.plot_lengths({"synthetic": prepared})
    assert len(figure.axes) >= 1


# --- the real files (shared/data beside the repo) -----------------------------------------------

needs_shared = pytest.mark.skipif(not (SHARED_DATA / "SHA256SUMS").is_file(),
                                  reason=f"no offline mirror at {SHARED_DATA}")


@pytest.fixture(scope="module")
def real_mirror(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("LTH_DATA_MIRROR", str(SHARED_DATA))
    mp.setenv("LTH_DATA_DIR", str(tmp_path_factory.mktemp("real_data")))
    yield SHARED_DATA
    mp.undo()


@needs_shared
@pytest.mark.slow
def test_real_imdb_study_and_canonical(real_mirror):
    start = time.perf_counter()
    study = prepare(DataConfig(dataset="imdb", protocol="study", max_vocab=50_000), progress=False)
    cold = time.perf_counter() - start
    print(f"cold IMDb study prepare: {cold:.1f} s {study.timings}")
    assert (len(study.train), len(study.val), len(study.test)) == (28_000, 12_000, 10_000)
    assert len(study.vocab) == 50_002
    start = time.perf_counter()
    lstm = prepare(DataConfig(dataset="imdb", protocol="study", max_vocab=25_000), progress=False)
    cached = time.perf_counter() - start
    print(f"cached IMDb load: {cached:.2f} s")
    # the times are printed, not asserted: speed targets live in benchmarks/bench_data.py
    assert len(lstm.vocab) == 25_002 and lstm.timings["cached"]
    for split in study.splits().values():
        assert int(split.lengths().min()) >= 1
    assert study.train.class_counts(2)[0] + study.val.class_counts(2)[0] + study.test.class_counts(2)[0] == 25_000
    canonical = prepare(DataConfig(dataset="imdb", protocol="canonical"), progress=False)
    assert (len(canonical.train) + len(canonical.val), len(canonical.test)) == (25_000, 25_000)
    assert (len(canonical.train), len(canonical.val)) == (17_500, 7_500)
    assert canonical.test.class_counts(2) == [12_500, 12_500]


@needs_shared
def test_real_ag_news_test_parses_and_train_is_reported_missing(real_mirror, no_network):
    rows = datasets.read_ag_news(sources.fetch("ag_news/test.csv", progress=False), "test")
    assert len(rows) == 7_600 and [sum(r.label == c for r in rows) for c in range(4)] == [1_900] * 4
    assert all("\\" not in r.text for r in rows)
    with pytest.raises(DataUnavailable, match="train.csv"):
        prepare(DataConfig(dataset="ag_news", protocol="official"), progress=False)
