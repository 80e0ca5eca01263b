"""SST-2: the parser on a tiny GLUE-shaped tar.gz made here, and the glue protocol (dev.tsv is the
test set).  The real mirror's file, when it is beside the repository, is only counted."""
from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from lthlib.core.config import DataConfig
from lthlib.data import datasets, sources
from lthlib.data.prepare import prepare, tokenize
from lthlib.data.sources import CorruptSource

from conftest import SHARED_DATA, write_mirror

SST2 = "sst2/SST-2.tar.gz"
TRAIN = [  # (sentence, label): whole sentences and the treebank's phrases, trailing spaces kept
    ("hide new secretions from the parental units ", 0),
    ('the film is "a triumph" , truly ', 1),      # a " is text (quoting off)
    ("contains no wit , only labored gags ", 0),
    ("loves ", 1),
    ("a masterpiece four years in the making ", 1),
    ("the greatest musicians ", 1),
    ("cold movie ", 0),
    ("is n't much fun ", 0),
]
DEV = [("it 's a charming and often affecting journey . ", 1),
       ("unflinchingly bleak and desperate ", 0),
       ('the " plot " is a mess . ', 0)]


def tsv(header: str, rows) -> str:
    return header + "\n" + "".join(f"{text}\t{label}\n" for text, label in rows)


def sst2_targz(train: str | None = None, dev: str | None = None) -> bytes:
    """A GLUE SST-2 folder as a tar.gz (test.tsv unlabelled, to be ignored)."""
    files = {"SST-2/dev.tsv": tsv("sentence\tlabel", DEV) if dev is None else dev,
             "SST-2/test.tsv": "index\tsentence\n0\tuncharted territory .\n",
             "SST-2/train.tsv": tsv("sentence\tlabel", TRAIN) if train is None else train}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as archive:
        archive.addfile(tarfile.TarInfo("SST-2"))   # the folder itself (not a file)
        for name, text in files.items():
            if text is None:
                continue
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def sst2_file(tmp_path):
    path = tmp_path / "SST-2.tar.gz"
    path.write_bytes(sst2_targz())
    return path


def test_read_sst2_reads_train_then_dev_with_quotes_kept(sst2_file):
    examples = datasets.read_sst2(sst2_file)
    assert [(e.text, e.label) for e in examples] == TRAIN + DEV
    assert [e.split for e in examples] == ["train"] * len(TRAIN) + ["test"] * len(DEV)
    assert '"a triumph"' in examples[1].text
    assert "uncharted" not in " ".join(e.text for e in examples)   # test.tsv is unlabelled


@pytest.mark.parametrize("row, where", [
    ("a sentence without its label", "line 3"),
    ("a sentence\t2", "line 3"),
    ("a sentence\twith a tab\t1", "line 3"),
])
def test_a_malformed_row_is_a_clear_error(tmp_path, row, where):
    path = tmp_path / "SST-2.tar.gz"
    path.write_bytes(sst2_targz(train=f"sentence\tlabel\ngood\t1\n{row}\nbad\t0\n"))
    with pytest.raises(CorruptSource, match=rf"SST-2/train\.tsv, {where}: expected sentence<TAB>label \(0 or 1\)"):
        datasets.read_sst2(path)


@pytest.mark.parametrize("payload, message", [
    (lambda: sst2_targz(train="text\tlabel\ngood\t1\n"), "should start with the header 'sentence<TAB>label'"),
    (lambda: sst2_targz()[:200], "not a readable SST-2 tar.gz"),
    (lambda: b"not a gzip file", "not a readable SST-2 tar.gz"),
])
def test_a_bad_header_or_archive_is_a_clear_error(tmp_path, payload, message):
    path = tmp_path / "SST-2.tar.gz"
    path.write_bytes(payload())
    with pytest.raises(CorruptSource, match=message):
        datasets.read_sst2(path)


def test_an_archive_without_dev_is_a_clear_error(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as archive:
        data = tsv("sentence\tlabel", TRAIN).encode()
        info = tarfile.TarInfo("SST-2/train.tsv")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    path = tmp_path / "SST-2.tar.gz"
    path.write_bytes(buf.getvalue())
    with pytest.raises(CorruptSource, match="holds no SST-2/dev.tsv"):
        datasets.read_sst2(path)


def test_glue_protocol_holds_validation_out_of_train_and_tests_on_dev(tmp_path, monkeypatch, data_home):
    mirror = write_mirror(tmp_path / "mirror", {SST2: sst2_targz()})
    monkeypatch.setenv("LTH_DATA_MIRROR", str(mirror))
    cfg = DataConfig(dataset="sst2", protocol="glue", val_fraction=0.25)
    data = prepare(cfg, progress=False)
    assert (len(data.train), len(data.val), len(data.test)) == (6, 2, len(DEV))
    rows = lambda split: [split.example(i).tolist() for i in range(len(split))]  # noqa: E731
    assert rows(data.test) == [data.vocab.encode(tokenize(text)) for text, _ in DEV]
    assert data.test.labels.tolist() == [label for _, label in DEV]
    pool = sorted(rows(data.train) + rows(data.val))
    assert pool == sorted(data.vocab.encode(tokenize(text)) for text, _ in TRAIN)
    assert set(data.vocab.itos[2:]) == {data.vocab.itos[t] for t in data.train.tokens.tolist()}  # train only
    assert "unflinchingly" not in data.vocab.stoi


def test_the_entry_and_its_source():
    entry = datasets.dataset("sst2")
    assert (entry.display, entry.classes(None), entry.default_protocol) == ("SST-2", ["neg", "pos"], "glue")
    assert entry.classes(None) == datasets.dataset("imdb").classes(None)   # heads align with IMDb's
    assert entry.files() == (SST2,) and entry.display_name("glue") == "SST-2"
    assert entry.paper_lr == 1e-3 and not entry.study and not entry.study_late_rewinding
    assert entry.quick == {"train_subsample": 20_000, "eval_subsample": 2_000, "max_len": 50, "epochs": 50}
    source = sources.SOURCES.get(SST2)
    assert source.url.endswith("SST-2.zip") and "mirror" in source.note and source.sha256


needs_shared = pytest.mark.skipif(not (SHARED_DATA / SST2).is_file(), reason=f"no {SST2} at {SHARED_DATA}")


@needs_shared
def test_the_mirrors_file_matches_the_pinned_checksum_and_parses():
    path = SHARED_DATA / SST2
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sources.SOURCES.get(SST2).sha256
    examples = datasets.read_sst2(path)
    train = [e for e in examples if e.split == "train"]
    test = [e for e in examples if e.split == "test"]
    assert (len(train), len(test)) == (67_349, 872)
    assert (sum(e.label for e in train), sum(e.label for e in test)) == (37_569, 444)
