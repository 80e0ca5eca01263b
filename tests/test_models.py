"""Kim CNN and the recurrent classifier: sizes, shapes, initialisation, padding invariance; no
class tests on models outside ``lthlib/nets/models/``."""
import ast
from pathlib import Path

import pytest
import torch
from torch import nn

import lthlib
from lthlib.core.config import ConfigError, ModelConfig
from lthlib.data.prepare import PAD, UNK
from lthlib.nets.models import MODELS, KimCNN, RecurrentClassifier, build_model, count_parameters

from helpers import tiny_model_config


@pytest.mark.parametrize("n_classes, expected", [(2, 5_120_801), (4, 5_121_704)])
def test_study_cnn_has_the_studys_parameter_count(n_classes, expected):
    cfg = ModelConfig(name="cnn", embed_dim=100, n_filters=100, filter_sizes=(3, 4, 5))
    model = build_model(cfg, 50_002, n_classes, init_seed=0)
    assert count_parameters(model) == expected


@pytest.mark.parametrize("n_classes, expected", [(2, 4_810_857), (4, 4_812_396)])
def test_study_bilstm_has_the_studys_parameter_count(n_classes, expected):
    cfg = ModelConfig(name="lstm", embed_dim=100, hidden_dim=256, n_layers=2, bidirectional=True)
    model = build_model(cfg, 25_002, n_classes, init_seed=0)
    assert count_parameters(model) == expected


def _batch(vocab=30, lengths=(7, 1, 3, 12), seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    tokens = torch.randint(2, vocab, (len(lengths), int(lengths.max())), generator=g)
    tokens[torch.arange(tokens.shape[1])[None, :] >= lengths[:, None]] = PAD
    return tokens, lengths


@pytest.mark.parametrize("name", ["cnn", "lstm", "gru", "rnn"])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_forward_gives_one_logit_for_binary_and_c_for_multiclass(name, n_classes):
    model = build_model(tiny_model_config(name, n_layers=2), 30, n_classes, init_seed=0)
    assert isinstance(model, KimCNN if name == "cnn" else RecurrentClassifier)
    tokens, lengths = _batch()
    logits = model(tokens, lengths)
    assert logits.shape == (4, 1 if n_classes == 2 else n_classes)
    assert torch.isfinite(logits).all()
    assert model.embedding_param in dict(model.named_parameters())
    assert any(n.startswith(model.output_prefix) for n, _ in model.named_parameters())


def test_cnn_accepts_batches_shorter_than_its_widest_filter():
    model = build_model(tiny_model_config("cnn"), 30, 2, init_seed=0).eval()
    tokens, lengths = _batch(lengths=(1, 2))
    assert model(tokens, lengths).shape == (2, 1)


@pytest.mark.parametrize("name", ["cnn", "lstm", "gru"])
def test_logits_do_not_depend_on_batch_padding(name):
    model = build_model(tiny_model_config(name, bidirectional=True), 30, 4, init_seed=1).eval()
    tokens, lengths = _batch(lengths=(6, 2, 15))
    with torch.no_grad():
        together = model(tokens, lengths)
        for i in range(3):
            alone = model(tokens[i:i + 1, :lengths[i]], lengths[i:i + 1])
            torch.testing.assert_close(alone, together[i:i + 1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["cnn", "lstm", "gru", "rnn"])
def test_initialisation_zero_biases_and_pad_unk_rows(name):
    model = build_model(tiny_model_config(name, n_layers=2), 40, 2, init_seed=3)
    for n, p in model.named_parameters():
        if "bias" in n.rpartition(".")[2]:
            assert torch.count_nonzero(p) == 0, n
    emb = model.embedding.weight.detach()
    assert torch.count_nonzero(emb[PAD]) == 0 and torch.count_nonzero(emb[UNK]) == 0
    rest = emb[2:]
    assert abs(float(rest.mean())) < 0.2 and 0.8 < float(rest.std()) < 1.2  # N(0, 1)


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn"])
def test_recurrent_weight_hh_is_orthogonal_per_gate_block(name):
    hidden = 16
    model = build_model(tiny_model_config(name, hidden_dim=hidden, n_layers=2), 40, 2, init_seed=0)
    for n, p in model.named_parameters():
        if "weight_hh" in n:
            for block in p.detach().split(hidden, dim=0):
                torch.testing.assert_close(block @ block.T, torch.eye(hidden), atol=1e-5, rtol=0)


def test_xavier_normal_scale_of_weights():
    model = build_model(ModelConfig(name="lstm", embed_dim=64, hidden_dim=64, n_layers=1,
                                    bidirectional=False), 40, 2, init_seed=0)
    w = model.rnn.weight_ih_l0.detach()
    expected = (2.0 / (w.shape[0] + w.shape[1])) ** 0.5
    assert abs(float(w.std()) / expected - 1) < 0.1


@pytest.mark.parametrize("name", ["cnn", "lstm"])
def test_same_seed_same_weights_other_seed_other_weights(name, monkeypatch):
    cfg = tiny_model_config(name)
    a = build_model(cfg, 40, 2, init_seed=7)
    torch.manual_seed(123)  # the global RNG plays no part
    b = build_model(cfg, 40, 2, init_seed=7)
    c = build_model(cfg, 40, 2, init_seed=8)
    for (n, pa), pb, pc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(pa, pb), n
        if torch.count_nonzero(pa) > 0:
            assert not torch.equal(pa, pc), n


def test_given_embedding_matrix_is_copied_with_pad_and_unk_zeroed():
    glove = torch.randn(40, 8)
    model = build_model(tiny_model_config("lstm"), 40, 2, init_seed=0, embedding=glove)
    emb = model.embedding.weight.detach()
    assert torch.equal(emb[2:], glove[2:])
    assert torch.count_nonzero(emb[:2]) == 0
    with pytest.raises(ConfigError):
        build_model(tiny_model_config("lstm"), 41, 2, init_seed=0, embedding=glove)


def test_registry_and_unknown_names():
    assert set(MODELS.names()) >= {"cnn", "lstm", "gru", "rnn"}
    model = build_model(tiny_model_config("gru"), 30, 2, init_seed=0)
    assert isinstance(model.rnn, nn.GRU)
    with pytest.raises(ConfigError):
        build_model(ModelConfig(name="transformer"), 30, 2, init_seed=0)
    assert "valid: cnn, lstm" in str(ConfigError_message(lambda: MODELS.get("transformer")))


def ConfigError_message(call) -> str:
    try:
        call()
    except ConfigError as error:
        return str(error)
    raise AssertionError("no ConfigError")


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layers, bidirectional", [(1, True), (2, True), (2, False)])
def test_the_cpu_path_without_packing_gives_the_packed_final_states(cell, layers, bidirectional):
    """The CPU runs each direction over right-padded (and, reversed, within-length) sequences
    instead of packing them; its states and their gradients are the packed run's."""
    torch.manual_seed(0)
    model = RecurrentClassifier(cell, 50, 8, 6, layers, bidirectional, 3, dropout=0.3).eval()
    x = torch.randn(5, 11, 8, requires_grad=True)
    lengths = torch.tensor([11, 3, 7, 1, 9])
    padded = model._last_states_padded(x, lengths)
    (grad_padded,) = torch.autograd.grad(padded.square().sum(), x)
    packed = model._last_states_packed(x, lengths)
    (grad_packed,) = torch.autograd.grad(packed.square().sum(), x)
    assert torch.allclose(padded, packed, atol=1e-6)
    assert torch.allclose(grad_padded, grad_packed, atol=1e-6)
    assert torch.count_nonzero(grad_padded[1, 3:]) == 0  # padding reaches no state that is read


def class_tests_on_models(package: Path, model_classes=("KimCNN", "RecurrentClassifier")) -> list[str]:
    """``isinstance`` / ``issubclass`` calls naming a model class, in modules of ``package``
    outside ``nets/models/``, as 'path:line'."""
    found = []
    for path in sorted(package.rglob("*.py")):
        if (package / "nets" / "models") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("isinstance", "issubclass")
                    and len(node.args) == 2):
                named = {getattr(n, "id", getattr(n, "attr", None)) for n in ast.walk(node.args[1])}
                if named & set(model_classes):
                    found.append(f"{path.relative_to(package)}:{node.lineno}")
    return found


def test_no_module_outside_nets_models_tests_a_model_class():
    """Per-model behaviour is asked of the model's registry entry (its hooks), never decided by
    ``isinstance(model, KimCNN)`` and the like outside ``lthlib/nets/models/``."""
    found = class_tests_on_models(Path(lthlib.__file__).parent)
    assert not found, f"isinstance on a model class outside nets/models: {found}"


def test_the_class_test_finder_finds_one(tmp_path):
    (tmp_path / "nets" / "models").mkdir(parents=True)
    (tmp_path / "nets" / "models" / "own.py").write_text("isinstance(m, KimCNN)\n")
    (tmp_path / "deploy.py").write_text("x = 1\nif isinstance(m, (nn.Linear, models.RecurrentClassifier)):\n    pass\n")
    assert class_tests_on_models(tmp_path) == ["deploy.py:2"]
