"""Pruning-at-initialisation scores against hand-computed values, SynFlow's conservation law,
exact mask counts, and runs on tiny real models."""
import itertools
import math

import pytest
import torch
from torch import nn

from lthlib.core.config import ModelConfig, PruneConfig
from lthlib.nets.masks import full_masks, masks_from_scores, prunable_names
from lthlib.nets.models import build_model
from lthlib.nets.scores import (
    METHODS,
    grasp_scores,
    prune_at_init,
    snip_scores,
    synflow_masks,
    synflow_scores,
)

VOCAB = 50


def squared_error(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((out.squeeze(-1) - y) ** 2).sum()


class ScalarProduct(nn.Module):
    """f(x) = a * b * x: small enough to differentiate twice by hand."""

    def __init__(self, a: float, b: float):
        super().__init__()
        self.a = nn.Parameter(torch.tensor([a]))
        self.b = nn.Parameter(torch.tensor([b]))

    def forward(self, x, lengths):
        return (self.a * self.b * x)[:, None]


class TwoLayer(nn.Module):
    """f(x) = v · (W x), a two-layer linear net without biases."""

    def __init__(self, W: torch.Tensor, v: torch.Tensor):
        super().__init__()
        self.W, self.v = nn.Parameter(W.clone()), nn.Parameter(v.clone())

    def forward(self, x, lengths):
        return ((x @ self.W.T) @ self.v)[:, None]


class LinearText(nn.Module):
    """Embedding -> mean over positions -> bias-free linear layers: linear in one-hot inputs."""
    embedding_param = "embedding.weight"
    output_prefix = "fc."
    lengths_on_cpu = False

    def __init__(self, vocab: int, dims: list[int], seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.embedding = nn.Embedding(vocab, dims[0])
        self.hidden = nn.Sequential(*[nn.Linear(i, o, bias=False) for i, o in itertools.pairwise(dims[:-1])])
        self.fc = nn.Linear(dims[-2], dims[-1], bias=False)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g))

    def forward(self, tokens, lengths):
        return self.fc(self.hidden(self.embedding(tokens).mean(dim=1)))


def tiny(name: str, n_classes: int) -> nn.Module:
    cfg = ModelConfig(name=name, embed_dim=8, n_filters=4, filter_sizes=(2, 3), hidden_dim=4,
                      n_layers=2, bidirectional=True, dropout=0.3)
    return build_model(cfg, VOCAB, n_classes, init_seed=0)


def all_masks(model: nn.Module) -> dict:
    return full_masks(model, prunable_names(model, PruneConfig()))


def text_batches(n_classes: int, n: int = 2, size: int = 6, width: int = 7) -> list[tuple]:
    g = torch.Generator().manual_seed(1)
    out = []
    for _ in range(n):
        lengths = torch.randint(2, width + 1, (size,), generator=g)
        tokens = torch.randint(2, VOCAB, (size, width), generator=g)
        tokens[torch.arange(width)[None, :] >= lengths[:, None]] = 0
        out.append((tokens, lengths, torch.randint(0, n_classes, (size,), generator=g)))
    return out


def half_up(x: float) -> int:
    return math.floor(x + 0.5)


# ---------------------------------------------------------------------------------------------
# Hand-computed values
# ---------------------------------------------------------------------------------------------

def test_snip_and_grasp_on_a_scalar_product_by_hand():
    # f = a b x, L = (f - y)^2 / 2 at a=2, b=3, x=1, y=1: r = 5, g = (r b x, r a x) = (15, 10),
    # H = [[b^2 x^2, 2abx^2 - xy], [., a^2 x^2]] = [[9, 11], [11, 4]], Hg = (245, 205).
    model = ScalarProduct(2.0, 3.0)
    masks = {"a": torch.ones(1, dtype=torch.bool), "b": torch.ones(1, dtype=torch.bool)}
    batch = [(torch.tensor([1.0]), torch.tensor([1]), torch.tensor([1.0]))]
    snip = snip_scores(model, masks, batch, squared_error)
    assert snip["a"].item() == pytest.approx(30.0) and snip["b"].item() == pytest.approx(30.0)
    grasp = grasp_scores(model, masks, batch, squared_error, temperature=1.0)
    assert grasp["a"].item() == pytest.approx(2 * 245.0) and grasp["b"].item() == pytest.approx(3 * 205.0)
    # GraSP removes the largest -θ⊙Hg (the paper), i.e. the smallest θ⊙Hg: a goes, b stays.
    kept = masks_from_scores(grasp, masks, "global", remaining=0.5)
    assert not kept["a"].item() and kept["b"].item()


def test_grasp_divides_the_logits_by_the_temperature():
    model = ScalarProduct(2.0, -3.0)
    masks = {"a": torch.ones(1, dtype=torch.bool), "b": torch.ones(1, dtype=torch.bool)}
    plain = grasp_scores(model, masks, [(torch.tensor([1.0]), torch.tensor([1]), torch.tensor([1.0]))],
                         squared_error, temperature=1.0)
    hot = grasp_scores(model, masks, [(torch.tensor([4.0]), torch.tensor([1]), torch.tensor([1.0]))],
                       squared_error, temperature=4.0)
    for name in masks:
        assert hot[name].item() == pytest.approx(plain[name].item())


def test_snip_and_grasp_on_a_two_layer_net_against_the_closed_form():
    g = torch.Generator().manual_seed(3)
    W, v = torch.randn(3, 2, generator=g, dtype=torch.float64), torch.randn(3, generator=g, dtype=torch.float64)
    xs, ys = torch.randn(2, 2, generator=g, dtype=torch.float64), torch.tensor([0.5, -1.0], dtype=torch.float64)
    batches = [(xs[i:i + 1], torch.tensor([1]), ys[i:i + 1]) for i in range(2)]
    masks = {"W": torch.ones(3, 2, dtype=torch.bool), "v": torch.ones(3, dtype=torch.bool)}
    model = TwoLayer(W, v).double()

    # f_b = v·W x_b, r_b = f_b - y_b; J_b = (v x_bᵀ, W x_b); the loss gradient is Σ r_b J_b and
    # H_b g = J_b (J_b · g) + r_b (g_v x_bᵀ, g_W x_b) (the second term: ∂²f/∂W_ij∂v_k = δ_ik x_j).
    r = [float(v @ W @ x) - float(y) for x, y in zip(xs, ys)]
    J = [(torch.outer(v, x), W @ x) for x in xs]
    gW = sum(rb * JW for rb, (JW, _) in zip(r, J))
    gv = sum(rb * Jv for rb, (_, Jv) in zip(r, J))
    HgW, Hgv = torch.zeros_like(W), torch.zeros_like(v)
    for rb, (JW, Jv), x in zip(r, J, xs):
        dot = float((JW * gW).sum() + (Jv * gv).sum())
        HgW += JW * dot + rb * torch.outer(gv, x)
        Hgv += Jv * dot + rb * (gW @ x)

    snip = snip_scores(model, masks, batches, squared_error)
    torch.testing.assert_close(snip["W"], (W * gW).abs())
    torch.testing.assert_close(snip["v"], (v * gv).abs())
    grasp = grasp_scores(model, masks, batches, squared_error, temperature=1.0)
    torch.testing.assert_close(grasp["W"], W * HgW)
    torch.testing.assert_close(grasp["v"], v * Hgv)


def test_synflow_on_a_linear_text_net_by_hand():
    model = LinearText(vocab=4, dims=[2, 3, 1])
    E, W1, W2 = (p.detach().double().abs() for p in (model.embedding.weight, model.hidden[0].weight,
                                                      model.fc.weight))
    masks = full_masks(model, [n for n, _ in model.named_parameters()])
    masks["hidden.0.weight"][1, 0] = False
    W1 = W1 * masks["hidden.0.weight"]
    # all-ones one-hot input: every position embeds to s = Σ_v |E_v|; R = 1ᵀ|W2||W1| s
    s = E.sum(dim=0)
    scores = synflow_scores(model, masks, seq_len=3)
    torch.testing.assert_close(scores["embedding.weight"], E * (W2 @ W1))
    torch.testing.assert_close(scores["hidden.0.weight"], W1 * torch.outer(W2[0], s))
    torch.testing.assert_close(scores["fc.weight"], W2 * (W1 @ s)[None, :])
    assert scores["hidden.0.weight"][1, 0] == 0.0
    assert model.hidden[0].weight.detach().lt(0).any()  # the model keeps its signs


# ---------------------------------------------------------------------------------------------
# SynFlow's conservation law
# ---------------------------------------------------------------------------------------------

def test_synflow_conserves_the_total_score_from_layer_to_layer_in_a_linear_net():
    model = LinearText(vocab=7, dims=[5, 4, 6, 3], seed=1)
    scores = synflow_scores(model, full_masks(model, [n for n, _ in model.named_parameters()]))
    totals = [float(s.sum()) for s in scores.values()]
    assert len(totals) == 4
    for total in totals[1:]:
        assert total == pytest.approx(totals[0], rel=1e-10)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_synflow_conserves_the_total_score_through_a_kim_cnn(n_classes):
    # ReLU and max-pooling are positively homogeneous and every bias starts at zero, so the
    # embedding, the convolutions together and the output weights each carry all of R.
    model = tiny("cnn", n_classes)
    scores = synflow_scores(model, all_masks(model))
    embedding = float(scores["embedding.weight"].sum())
    convs = sum(float(s.sum()) for n, s in scores.items() if n.startswith("convs.") and n.endswith("weight"))
    output = float(scores["fc.weight"].sum())
    assert embedding > 0
    assert convs == pytest.approx(embedding, rel=1e-10) and output == pytest.approx(embedding, rel=1e-10)
    assert all(float(s.abs().sum()) == 0.0 for n, s in scores.items() if n.endswith("bias"))


# ---------------------------------------------------------------------------------------------
# Masks (by lthlib.nets.masks.masks_from_scores, tested in test_masks.py)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["cnn", "lstm"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("scope", ["local", "global"])
def test_prune_at_init_hits_the_requested_counts_on_real_models(name, method, scope):
    model = tiny(name, 2)
    masks = all_masks(model)
    remaining = 0.3
    new = prune_at_init(method, model, masks, remaining, batches=text_batches(2), scope=scope, rounds=20)
    assert list(new) == list(masks)
    if scope == "local":
        for n, m in new.items():
            assert int(m.sum()) == half_up(remaining * m.numel()), n
    else:
        total = sum(m.numel() for m in new.values())
        assert sum(int(m.sum()) for m in new.values()) == half_up(remaining * total)


def test_synflow_masks_from_a_pruned_start_stay_inside_it_with_exact_counts():
    model = tiny("cnn", 4)
    start = masks_from_scores({n: torch.rand(m.shape, generator=torch.Generator().manual_seed(0))
                               for n, m in all_masks(model).items()}, all_masks(model), "local", remaining=0.6)
    new = synflow_masks(model, start, 0.2, rounds=10, scope="local")
    for n, m in new.items():
        assert int(m.sum()) == half_up(0.2 * m.numel()) and not bool((m & ~start[n]).any()), n
    with pytest.raises(ValueError, match="target_remaining"):
        synflow_masks(model, start, 0.7, rounds=2, scope="local")


def test_prune_at_init_checks_its_arguments():
    model = tiny("cnn", 2)
    with pytest.raises(ValueError, match="unknown pruning-at-init method"):
        prune_at_init("magnitude", model, all_masks(model), 0.5)
    with pytest.raises(ValueError, match="pass batches"):
        prune_at_init("snip", model, all_masks(model), 0.5)


# ---------------------------------------------------------------------------------------------
# Runs on the real models
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["cnn", "lstm"])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_scores_are_finite_shaped_and_leave_the_model_alone(name, n_classes):
    model = tiny(name, n_classes).train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    masks = all_masks(model)
    masks["fc.weight"][0, 0] = False
    batches = text_batches(n_classes)
    for scores in (snip_scores(model, masks, batches), grasp_scores(model, masks, batches),
                   synflow_scores(model, masks)):
        assert list(scores) == list(masks)
        for n, s in scores.items():
            assert s.shape == masks[n].shape and s.dtype == torch.float64, n
            assert bool(torch.isfinite(s).all()), n
        assert scores["fc.weight"][0, 0] == 0.0  # a pruned weight scores 0
        assert float(scores["fc.weight"].abs().sum()) > 0
    assert model.training
    for n, p in model.named_parameters():
        assert torch.equal(p.detach(), before[n]) and p.grad is None, n


def test_synflow_saturates_the_first_lstm_layer():
    # Documented behaviour: positive weights on an input summing |E| over the vocabulary drive
    # the first layer's gates into saturation, so its weights and the embedding score 0.
    model = tiny("lstm", 2)
    scores = synflow_scores(model, all_masks(model))
    assert all(float(s.sum()) == 0.0 for n, s in scores.items()
               if n == "embedding.weight" or n.endswith(("_l0", "_l0_reverse")))
    assert float(scores["rnn.weight_ih_l1"].sum()) > 0 and float(scores["fc.weight"].sum()) > 0


def test_synflow_scores_a_bilstm_of_the_smoke_size_in_float64():
    """SynFlow scores a float64 copy; the BiLSTM's CPU path must run it in float64 (at this size
    a float32 input to float64 weights went to oneDNN, which has no float64)."""
    cfg = ModelConfig(name="lstm", embed_dim=32, hidden_dim=16, n_layers=1, bidirectional=True)
    model = build_model(cfg, 2002, 2, init_seed=0)
    masks = all_masks(model)
    new = prune_at_init("synflow", model, masks, 0.5, scope="global", rounds=3)
    assert sum(int(m.sum()) for m in new.values()) == half_up(0.5 * sum(m.numel() for m in new.values()))
