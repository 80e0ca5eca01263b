"""Pruning-at-initialisation scores (SNIP, GraSP, SynFlow), and θ0 pruned by them.

Each method only scores the prunable parameters of θ0 (as the reference's pruners only
implement ``score()``); :func:`lthlib.nets.masks.masks_from_scores` keeps the highest scores, and
the study then trains the pruned θ0 like a ticket.  :func:`prune_at_init` is the entry point;
SynFlow's rounds of re-scoring (:func:`synflow_masks`) live here, each round pruned by that same
function.  Random pruning at initialisation needs no arm here:
:func:`lthlib.nets.masks.random_masks_like` draws masks with the same per-tensor counts.

Conventions shared by all three:

- **Smallest scores are removed.**  :func:`lthlib.nets.masks.masks_from_scores` keeps exactly
  ``round(remaining * n)`` (half up) of the entries, counted over whole tensors (``local``,
  per tensor) or over all masked entries together (``global``), chosen among the entries the
  given masks still keep; pruned entries never come back.  Ties go by position (a stable sort,
  globally in mask order), so equal scores prune the earlier entries first.
- **Default scope is global** for every method, as in the SNIP, GraSP and SynFlow papers and
  the reference code (ganguli-lab/Synaptic-Flow ``Pruners/pruners.py``); the study's ``local``
  scope is an option.
- Scores are computed on a deep copy in eval mode (no dropout; the reference's default
  ``train_mode=False``) with the current masks applied, so the caller's model, its gradients
  and its train/eval mode stay untouched.  cuDNN is off while scoring: its RNN kernels refuse a
  backward pass in eval mode and have no double backward (GraSP).
- Scores are float64 on the CPU and unnormalised: the reference divides SNIP and GraSP scores
  by a positive sum, which changes no ranking.
- Every bias of :func:`lthlib.nets.models.initialise` is zero, and so are the embedding's PAD and
  UNK rows; every score here has the form ``θ ⊙ (...)``, so these entries score exactly 0 and
  go first under global scope (in position order under local scope, where their tensor's quota
  is cut).  SNIP and GraSP also give 0 to every embedding row whose token is absent from the
  scoring batches.
"""
from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterable, Iterator

import torch
from torch import nn

from .masks import Masks, Scores, apply_masks, masks_from_scores
from .models import loss_and_correct

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
METHODS = ("snip", "grasp", "synflow")
GRASP_TEMPERATURE = 200.0          # the reference's (and GraSP's) softmax temperature
RECURRENT_SEQ_LEN = 5              # SynFlow's all-ones sequence for a model without ``min_len``


# ---------------------------------------------------------------------------------------------
# Shared plumbing
# ---------------------------------------------------------------------------------------------

def _no_cudnn() -> contextlib.AbstractContextManager:
    """cuDNN's RNN has no double backward and no backward in eval mode: score without it."""
    return torch.backends.cudnn.flags(enabled=False)


def _scoring_copy(model: nn.Module, masks: Masks) -> nn.Module:
    """A deep copy in eval mode with the pruned weights zeroed, so scoring leaves ``model`` alone."""
    net = copy.deepcopy(model).eval()
    for p in net.parameters():
        p.requires_grad_(True)
    apply_masks(net, masks)
    return net


def _masked_params(net: nn.Module, masks: Masks) -> list[torch.Tensor]:
    params = dict(net.named_parameters())
    missing = [n for n in masks if n not in params]
    if missing:
        raise KeyError(f"masks name parameters the model lacks: {missing}")
    return [params[n] for n in masks]


def _on_device(batches: Iterable[tuple], model: nn.Module) -> list[tuple]:
    """(tokens, lengths, labels) on the model's device; lengths where its forward wants them."""
    device = next(model.parameters()).device
    lengths_device = "cpu" if getattr(model, "lengths_on_cpu", False) else device
    out = [(tokens.to(device), lengths.to(lengths_device), labels.to(device))
           for tokens, lengths, labels in batches]
    if not out:
        raise ValueError("scoring needs at least one batch")
    return out


def _default_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The training loss: BCE on one logit for two classes, cross-entropy otherwise."""
    return loss_and_correct(logits, labels)[0]


def _gradients(net: nn.Module, params: list[torch.Tensor], batch: tuple, loss_fn: LossFn, *,
               temperature: float = 1.0, create_graph: bool = False) -> tuple[torch.Tensor, ...]:
    tokens, lengths, labels = batch
    loss = loss_fn(net(tokens, lengths) / temperature, labels)
    return torch.autograd.grad(loss, params, create_graph=create_graph, materialize_grads=True)


def _to_scores(masks: Masks, values: Iterable[torch.Tensor]) -> Scores:
    return {name: v.detach().to("cpu", torch.float64) for name, v in zip(masks, values)}


# ---------------------------------------------------------------------------------------------
# SNIP and GraSP (data-dependent)
# ---------------------------------------------------------------------------------------------

def snip_scores(model: nn.Module, masks: Masks, batches: Iterable[tuple],
                loss_fn: LossFn | None = None) -> Scores:
    """SNIP (Lee et al. 2019): ``|θ ⊙ g|`` with ``g`` the loss gradient summed over ``batches``.

    As the reference, the gradients of the batches' (mean) losses are summed before the
    absolute value is taken: the score is the connection sensitivity ``|∂L/∂m|`` of the loss
    over all scoring batches.  ``batches`` yields ``(tokens, lengths, labels)``; ``loss_fn``
    ``(logits, labels) -> loss`` defaults to the training loss.
    """
    loss_fn = loss_fn or _default_loss
    net = _scoring_copy(model, masks)
    params = _masked_params(net, masks)
    total = [torch.zeros_like(p) for p in params]
    with _no_cudnn():
        for batch in _on_device(batches, net):
            torch._foreach_add_(total, _gradients(net, params, batch, loss_fn))
    return _to_scores(masks, [(p.detach() * g).abs() for p, g in zip(params, total)])


def grasp_scores(model: nn.Module, masks: Masks, batches: Iterable[tuple],
                 loss_fn: LossFn | None = None, *, temperature: float = GRASP_TEMPERATURE) -> Scores:
    """GraSP (Wang et al. 2020): ``θ ⊙ Hg``, smallest removed, as the reference scores it.

    The paper's score is ``S = −θ ⊙ Hg`` (the change of the gradient norm when a weight is
    removed) and it removes the *largest* ``S``; the reference returns ``θ ⊙ Hg = −S`` and
    removes the smallest.  This function returns ``θ ⊙ Hg`` so that, like every score here, the
    smallest go: the same weights as the paper's rule.

    ``g`` is the gradient of the loss on the logits divided by ``temperature`` (200 in the
    paper and the reference), summed over ``batches`` and detached; ``Hg = Σ_b ∇(g · ∇L_b)``
    by double backward, the Hessian restricted to the masked parameters.
    """
    loss_fn = loss_fn or _default_loss
    net = _scoring_copy(model, masks)
    params = _masked_params(net, masks)
    batches = _on_device(batches, net)
    g = [torch.zeros_like(p) for p in params]
    hg = [torch.zeros_like(p) for p in params]
    with _no_cudnn():
        for batch in batches:
            torch._foreach_add_(g, _gradients(net, params, batch, loss_fn, temperature=temperature))
        for batch in batches:
            grads = _gradients(net, params, batch, loss_fn, temperature=temperature, create_graph=True)
            z = sum((gi * grad).sum() for gi, grad in zip(g, grads))
            torch._foreach_add_(hg, torch.autograd.grad(z, params, materialize_grads=True))
    return _to_scores(masks, [p.detach() * h for p, h in zip(params, hg)])


# ---------------------------------------------------------------------------------------------
# SynFlow (data-free)
# ---------------------------------------------------------------------------------------------

class _AllOnesEmbedding(nn.Module):
    """The embedding as a linear map on one-hot rows, fed an all-ones row at every position.

    ``ones(V) @ E`` is the sum of the embedding's rows, so every position of every sequence
    gets that one vector whatever the token ids.  It holds the embedding's own parameter under
    the same name, so the scores keep their keys.
    """

    def __init__(self, weight: nn.Parameter):
        super().__init__()
        self.weight = weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.weight.sum(dim=0).expand(*tokens.shape, self.weight.shape[1])


def _cast_to_own_dtype(module: nn.Module, args: tuple) -> tuple:
    """Forward pre-hook: hand an RNN its input in the RNN's own dtype.

    RecurrentClassifier.forward casts the embedded input to float32 (its recurrence runs in
    fp32); on SynFlow's float64 copy this casts it back, so the one float32 step is that cast.
    """
    dtype = next(module.parameters()).dtype
    return (args[0].to(dtype), *args[1:])


class _SynFlowNet:
    """A float64 copy of a text classifier with |θ| weights and an all-ones input, to score often.

    - **abs**: every parameter (masked or not, biases and recurrent weights included, as the
      reference's ``abs_`` on the whole state dict) is replaced by its absolute value; the
      masks zero the pruned ones before each scoring round.  The caller's model is not touched.
    - **all-ones input**: the embedding is treated as a linear map on one-hot token vectors; an
      all-ones vector at each of ``seq_len`` positions gives the sum of ``|E|``'s rows at every
      position (see :class:`_AllOnesEmbedding`), one sequence of full length.  For the CNN any
      length from the widest filter on gives the same scores (every window is equal, and the
      max-pool splits its gradient evenly among ties); the default is that width.  For a
      recurrent model the length matters: at length 1 ``weight_hh`` gets no gradient (h0 = 0);
      the default is :data:`RECURRENT_SEQ_LEN`.
    - **nonlinearities are kept**, as the reference keeps them.  ReLU is positively homogeneous,
      so the CNN keeps SynFlow's conservation law (each layer's total score equals R).  An LSTM
      or GRU is not: with positive weights and a positive input that sums ``|E|`` over the
      vocabulary, the gate pre-activations are large and positive, the sigmoids and tanhs
      saturate, and the gradients through the gates vanish (exactly 0 in float64 once a
      sigmoid's argument passes ~37).  The embedding, ``weight_ih``/``weight_hh`` and the
      recurrent biases then score (near) 0 while the output layer does not, so global SynFlow
      strips the recurrent network first; :mod:`lthlib.nets.collapse` reports the result.  At the
      study's size (vocabulary 25k, embedding 100, 2-layer BiLSTM of 256) the embedding and the
      whole first layer score exactly 0 and the second layer's weights at most ~1e-11 (the
      output weights ~0.2), and 100-round global SynFlow disconnects the network already at
      remaining 0.8**5.  A GRU is worse: its update gate saturates at 1, so h stays at h0 = 0
      and every score is 0 (the masks are then positional).  Biases at their zero
      initialisation score 0 in any network.
    """

    def __init__(self, model: nn.Module, seq_len: int | None = None):
        self.net = copy.deepcopy(model).eval().double()
        emb_module = getattr(model, "embedding_param", "embedding.weight").rpartition(".")[0]
        self.net.set_submodule(emb_module, _AllOnesEmbedding(self.net.get_submodule(emb_module).weight))
        for module in self.net.modules():
            if isinstance(module, nn.RNNBase):
                module.register_forward_pre_hook(_cast_to_own_dtype)
        self.params = dict(self.net.named_parameters())
        with torch.no_grad():
            for p in self.params.values():
                p.abs_()
                p.requires_grad_(True)
        self.abs_values = {n: p.detach().clone() for n, p in self.params.items()}
        length = seq_len or getattr(model, "min_len", RECURRENT_SEQ_LEN)
        device = next(self.net.parameters()).device
        self.tokens = torch.ones((1, length), dtype=torch.int64, device=device)
        lengths_device = "cpu" if getattr(model, "lengths_on_cpu", False) else device
        self.lengths = torch.tensor([length], dtype=torch.int64, device=lengths_device)

    def scores(self, masks: Masks) -> Scores:
        """``|θ ⊙ ∂R/∂θ|`` with ``R`` the sum of the outputs, on ``|θ0|`` masked by ``masks``."""
        params = _masked_params(self.net, masks)
        with torch.no_grad():
            for p, name in zip(params, masks):
                p.copy_(self.abs_values[name] * masks[name].to(p.device, p.dtype))
        with _no_cudnn():
            total = self.net(self.tokens, self.lengths).sum()
            grads = torch.autograd.grad(total, params, materialize_grads=True)
        return _to_scores(masks, [(p.detach() * g).abs() for p, g in zip(params, grads)])


def synflow_scores(model: nn.Module, masks: Masks, *, seq_len: int | None = None) -> Scores:
    """One round of SynFlow (Tanaka et al. 2020) scores; see :class:`_SynFlowNet` for what the
    all-ones input and |θ| mean for an embedding and an RNN."""
    return _SynFlowNet(model, seq_len).scores(masks)


def _remaining_schedule(start: float, target: float, rounds: int) -> Iterator[float]:
    """Exponential: ``start * (target / start) ** (r / rounds)``, ending exactly on ``target``.

    From full masks (``start = 1``) this is the reference's ``target ** (r / rounds)``.
    """
    for r in range(1, rounds):
        yield start * (target / start) ** (r / rounds)
    yield target


def _start_fraction(masks: Masks, scope: str) -> float:
    """The largest remaining fraction every round can ask for without reviving an entry."""
    if scope == "local":
        return min(float(m.sum()) / m.numel() for m in masks.values())
    return sum(float(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())


def synflow_masks(model: nn.Module, masks: Masks, target_remaining: float, rounds: int = 100, *,
                  scope: str = "global", seq_len: int | None = None) -> Masks:
    """Iterative SynFlow: ``rounds`` rounds of re-scoring with the current mask applied, each
    pruning to the next fraction of an exponential schedule, so that no layer is emptied in
    one step (the point of SynFlow's iteration, against layer collapse)."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    start = _start_fraction(masks, scope)
    if not 0.0 < target_remaining <= start:
        raise ValueError(f"target_remaining must lie in (0, {start}], got {target_remaining}")
    synflow = _SynFlowNet(model, seq_len)
    current = masks
    for remaining in _remaining_schedule(start, target_remaining, rounds):
        current = masks_from_scores(synflow.scores(current), current, scope, remaining=remaining)
    return current


# ---------------------------------------------------------------------------------------------
# One entry point
# ---------------------------------------------------------------------------------------------

_DATA_SCORES = {"snip": snip_scores, "grasp": grasp_scores}


def prune_at_init(method: str, model: nn.Module, masks: Masks, remaining: float, *,
                  batches: Iterable[tuple] | None = None, loss_fn: LossFn | None = None,
                  scope: str = "global", rounds: int = 100, seq_len: int | None = None) -> Masks:
    """New masks for θ0 keeping ``remaining`` of the masked entries by ``method``.

    SNIP and GraSP score once on ``batches`` (one shot, as their papers); SynFlow ignores the
    data and prunes in ``rounds`` rounds.  ``scope`` defaults to global, each method's own.
    """
    if method == "synflow":
        return synflow_masks(model, masks, remaining, rounds, scope=scope, seq_len=seq_len)
    if method not in _DATA_SCORES:
        raise ValueError(f"unknown pruning-at-init method {method!r}; valid: {', '.join(METHODS)}")
    if batches is None:
        raise ValueError(f"{method} scores on data: pass batches")
    scores = _DATA_SCORES[method](model, masks, batches, loss_fn)
    return masks_from_scores(scores, masks, scope, remaining=remaining)
