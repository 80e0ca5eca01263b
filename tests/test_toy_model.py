"""A model added as one module: a bag-of-embeddings classifier, its builder, its hooks and its
registration, all in the first half of this file (as a plugin module would hold them), with no
file of the library touched.  Collapse, FLOPs and the ONNX export then work for it."""
import numpy as np
import pytest
import torch
from torch import nn

from lthlib.core.config import ConfigError, ModelConfig, PruneConfig
from lthlib.data.prepare import PAD
from lthlib.deploy import forms, measure
from lthlib.nets.collapse import collapsed_layers, network_collapsed
from lthlib.nets.masks import full_masks, prunable_names
from lthlib.nets.models import MODELS, ModelSpec, build_model, exportable_models, n_outputs
from lthlib.nets.models.initialisation import no_rule, xavier_normal, zeros
from lthlib.nets.models.reach import Alive, embedding_reach, output_reach, rows_reached

# ---------------------------------------------------------------------------------------------
# The model's module
# ---------------------------------------------------------------------------------------------


class BagOfEmbeddings(nn.Module):
    """embedding -> mean over the tokens -> Linear -> ReLU -> Linear."""
    model_name = "bag"
    embedding_param = "embedding.weight"
    output_prefix = "fc."
    lengths_on_cpu = False

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int, n_classes: int):
        super().__init__()
        self.n_classes, self.n_out = n_classes, n_outputs(n_classes)
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.hidden = nn.Linear(embed_dim, hidden_dim)
        self.fc = nn.Linear(hidden_dim, self.n_out)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        summed = self.embedding(tokens).sum(dim=1)  # the PAD row is zero
        mean = summed / lengths.clamp(min=1).to(summed.dtype)[:, None]
        return self.fc(torch.relu(self.hidden(mean)))


def init_rule(name: str, shape: torch.Size, g: torch.Generator) -> torch.Tensor:
    if name.endswith("bias"):
        return zeros(shape)
    if len(shape) == 2:
        return xavier_normal(shape, g)
    raise no_rule(name)


def reach(model: BagOfEmbeddings, alive: Alive) -> dict[str, torch.Tensor]:
    reached = embedding_reach(model, alive)
    reached["hidden.weight"] = rows_reached(alive("hidden.weight"), reached[model.embedding_param])
    return {**reached, **output_reach(model, alive, reached["hidden.weight"])}


def layer_kind(model: BagOfEmbeddings, name: str) -> str | None:
    return "hidden" if name == "hidden.weight" else None


def weight_uses(model: BagOfEmbeddings, name: str, n: torch.Tensor) -> float | None:
    return 1.0 if name.startswith("hidden.") else None  # once per example, on the mean


def build(cfg: ModelConfig, vocab_size: int, n_classes: int) -> BagOfEmbeddings:
    return BagOfEmbeddings(vocab_size, cfg.embed_dim, cfg.hidden_dim, n_classes)


BAG = ModelSpec("bag", "Bag of embeddings", build, recurrent=False, paper_max_vocab=50,
                paper=ModelConfig(name="bag", embed_dim=6, hidden_dim=5),
                init_rule=init_rule, reach=reach, layer_kind=layer_kind, weight_uses=weight_uses,
                export=lambda model: model.eval())

# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def bag():
    MODELS.register(BAG)
    try:
        yield build_model(BAG.paper, 50, 3, init_seed=0)
    finally:
        MODELS.unregister(BAG.name)


def test_it_is_built_by_its_own_rule_from_the_seed(bag):
    again = build_model(BAG.paper, 50, 3, init_seed=0)
    assert all(torch.equal(a, b) for a, b in zip(bag.state_dict().values(), again.state_dict().values()))
    assert not bag.hidden.bias.any() and bag.hidden.weight.std() > 0
    assert not bag.embedding.weight[PAD].any()


def test_collapse_follows_its_reach_and_kinds(bag):
    masks = full_masks(bag, prunable_names(bag, PruneConfig()))
    rows = {row["tensor"]: row for row in collapsed_layers(bag, masks)}
    assert {name: row["kind"] for name, row in rows.items()} == {
        "embedding.weight": "embedding", "hidden.weight": "hidden", "hidden.bias": "bias",
        "fc.weight": "output", "fc.bias": "output_bias"}
    assert not network_collapsed(bag, masks)
    masks["hidden.weight"][:, :] = False  # no hidden unit hears the embedding any more
    rows = {row["tensor"]: row for row in collapsed_layers(bag, masks)}
    assert rows["hidden.weight"]["collapsed"] and rows["fc.weight"]["collapsed"]
    assert network_collapsed(bag, masks)


def test_flops_follow_its_weight_uses(bag):
    uses = measure.weight_uses(bag, torch.tensor([3, 9]))
    assert uses == {"embedding.weight": 0.0, "hidden.weight": 1.0, "hidden.bias": 1.0,
                    "fc.weight": 1.0, "fc.bias": 1.0}
    assert measure.flops(bag.state_dict(), uses, skip_zeros=False) == 2 * 6 * 5 + 5 + 2 * 5 * 3 + 3


def test_its_onnx_graph_runs_as_the_network(bag, tmp_path):
    assert "bag" in exportable_models()
    forms.check_exportable("bag")
    path = forms.export_onnx(bag, 50, tmp_path / "bag.onnx")
    tokens, lengths = forms.example_batch(50, batch=4, steps=9)
    expected = forms.torch_runner(bag)(tokens.numpy(), lengths.numpy())
    np.testing.assert_allclose(forms.ort_runner(path)(tokens.numpy(), lengths.numpy()), expected,
                               rtol=1e-5, atol=1e-6)


def test_without_an_export_hook_the_exporter_refuses_it_by_name(bag, tmp_path):
    MODELS.register(ModelSpec(**{**BAG.__dict__, "export": None}))
    with pytest.raises(ConfigError, match="refuses model 'bag': its ONNX graph is not checked"):
        forms.export_onnx(bag, 50, tmp_path / "bag.onnx")
    assert "bag" not in exportable_models()
