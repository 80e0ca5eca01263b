"""Iterative magnitude pruning: trunks and branches, level by level, resumable; the grid.

Every arm (:mod:`lthlib.experiment.arms`) starts from the same dense network: level 0 trains θ0 (seeded by
the run's seed) with no mask, once per (data, model, training, seed), in its own store folder
that also keeps θ0, θk and the weights after every dense epoch.  Level L ≥ 1 trains a network
with ``remaining = (1 - fraction) ** L`` of each prunable tensor.  A *trunk* (mask from its own
previous level) prunes the trained weights of level L - 1; a *branch* takes its mask at level L
from the winning-ticket trunk of the same configuration (that mask, a random one with its
per-tensor counts, or a score at initialisation pruned to its sparsity).  The arm's ``reset_to``
says what the survivors start from.

Every level is resumable: its mask is written before training, training checkpoints each epoch,
and ``metrics.json`` marks it done, so a rerun is a no-op and a killed run picks up where it
stopped.  A level trains under its claim (:meth:`lthlib.experiment.store.RunDir.claim`), so two
processes (two hosts sharing the store) asking for it train it once: the second waits and finds
it done.  Claims are taken branch, then trunk, then dense, never the other way round.
"""
from __future__ import annotations

import functools
import json
import math
import time
from dataclasses import dataclass, replace

import pandas as pd
import torch

from ..core.config import (
    ConfigError,
    ExperimentConfig,
    data_hash,
    dense_key,
    derive_seed,
)
from ..data.prepare import PreparedData, prepared
from ..machine.files import cpu_state, load_torch, save_json, save_torch
from ..machine.platform import cpu_fingerprint, cpu_threads, resolve_device
from ..nets.collapse import collapsed_layers, network_collapsed
from ..nets.early_bird import early_bird_search
from ..nets.masks import (
    Masks,
    full_masks,
    layer_table,
    magnitude_prune,
    prunable_names,
    random_masks_like,
    remaining_fraction,
    transferred_masks,
)
from ..nets.models import build_model, scale_matched_embedding
from ..nets.scores import prune_at_init
from .arms import Arm, arm, arm_key, rewind_iteration, run_hash
from .arms import trunk_config as trunk_of
from .profiles import validate
from .store import RunDir, Store, encode_classes
from .train import Batcher, TrainResult, train_model

_EMBEDDING_CACHE: dict[tuple, torch.Tensor] = {}


# ---------------------------------------------------------------------------------------------
# Shared inputs: data, embeddings, fresh networks
# ---------------------------------------------------------------------------------------------

def load_data(cfg: ExperimentConfig, progress: bool = True) -> PreparedData:
    """The configuration's prepared data, once per process."""
    return prepared(cfg.data, progress)


def load_embedding(cfg: ExperimentConfig, data: PreparedData, seed: int) -> torch.Tensor | None:
    if cfg.model.embedding != "glove":
        return None
    from ..data.embeddings import glove_matrix
    key = (data.fingerprint, cfg.model.embed_dim, seed)
    if key not in _EMBEDDING_CACHE:
        _EMBEDDING_CACHE[key], _ = glove_matrix(data.vocab, cfg.model.embed_dim, seed=seed)
    return _EMBEDDING_CACHE[key]


def new_network(cfg: ExperimentConfig, data: PreparedData, init_seed: int,
                keep_pretrained: bool = True) -> torch.nn.Module:
    """A network drawn from θ0's distribution with ``init_seed``: a pretrained embedding is
    copied in (``keep_pretrained``) or replaced by random vectors of its scale."""
    embedding = load_embedding(cfg, data, seed=init_seed)
    if embedding is not None and not keep_pretrained:
        embedding = scale_matched_embedding(embedding, derive_seed(init_seed, "embedding"))
    return build_model(cfg.model, len(data.vocab), data.n_classes, init_seed=init_seed,
                       embedding=embedding)


def theta0_share(start: dict[str, torch.Tensor], theta0: dict[str, torch.Tensor], masks: Masks) -> float:
    """The share of a level's surviving weights whose starting value is θ0's (1 for the winning
    ticket, about 0 for a full re-initialisation: the zero biases are all that stay)."""
    same = kept = 0
    for name, mask in masks.items():
        survivors = mask.bool()
        kept += int(survivors.sum())
        same += int(((start[name] == theta0[name]) & survivors).sum())
    return same / kept if kept else float("nan")


def masked(state: dict[str, torch.Tensor], masks: Masks) -> dict[str, torch.Tensor]:
    return {name: value * masks[name].to(value.dtype) if name in masks else value.clone()
            for name, value in state.items()}


@dataclass
class Level:
    """What one level trains: a mask, the weights it starts from, and for how long."""
    index: int
    masks: Masks
    start: dict[str, torch.Tensor]
    epochs: int


# ---------------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------------

class Runner:
    """Runs the levels of one configuration into the store, skipping what is done."""

    def __init__(self, cfg: ExperimentConfig, store: Store, progress: bool = True, record: bool = True):
        self.cfg = validate(cfg)
        self.arm: Arm = arm(cfg.arm)
        self.store = store
        self.progress = progress
        #: add finished levels to the tidy tables here (a process training alone); a grid's
        #: workers leave that to their coordinator (:meth:`lthlib.experiment.store.Store.collect`)
        self.record = record
        self.data = load_data(cfg, progress)
        self.iterations_per_epoch = math.ceil(len(self.data.train) / cfg.train.batch_size)
        self.rewind_iteration = rewind_iteration(cfg, self.iterations_per_epoch,
                                                 strict="rewind_point" in self.arm.reads)
        self.run = store.run_dir(arm_key(cfg), cfg)
        self.dense = store.run_dir(dense_key(cfg), replace(cfg, arm="dense", source=None))

    # -- level 0: the dense network every arm shares ---------------------------------------
    def theta0(self) -> dict[str, torch.Tensor]:
        path = self.dense.path / "theta0.pt"
        if not path.exists():
            save_torch(cpu_state(new_network(self.cfg, self.data, derive_seed(self.cfg.seed, "init"))), path)
        return load_torch(path)

    def theta_k_path(self, iteration: int):
        return self.dense.path / f"theta_k_{iteration:06d}.pt"

    def dense_epoch_path(self, epoch: int):
        return self.dense.file(0, f"epoch_{epoch:02d}.pt")

    def full_masks(self) -> Masks:
        return full_masks(self.shapes, prunable_names(self.shapes, self.cfg.prune))

    def ensure_dense(self) -> dict:
        """Train level 0 once per (data, model, training, seed); return its metrics."""
        if not self.dense.is_done(0):
            with self.dense.claim(0):
                if not self.dense.is_done(0):  # another process may have trained it while we waited
                    self._train_dense()
        return self.dense.metrics(0)

    def _train_dense(self) -> None:
        level = Level(0, self.full_masks(), self.theta0(), self.cfg.train.epochs)
        save_epoch = lambda epoch, model: save_torch(cpu_state(model), self.dense_epoch_path(epoch))  # noqa: E731
        result = self._train(self.dense, level, snapshot_at=self.rewind_iteration, on_epoch_end=save_epoch)
        if result.snapshot_state is not None:  # None only if early stopping came first
            save_torch(result.snapshot_state, self.theta_k_path(self.rewind_iteration))
        self._finish(self.dense, level, result, keep_final=True)

    def theta_k(self) -> dict[str, torch.Tensor]:
        """θk at this config's rewind point; replayed from θ0 (deterministically) when dense
        training was run for another rewind point."""
        path = self.theta_k_path(self.rewind_iteration)
        if not path.exists():
            self.ensure_dense()
        if not path.exists():
            with self.dense.claim(0):
                if not path.exists():
                    self._replay_theta_k(path)
        return load_torch(path)

    def _replay_theta_k(self, path) -> None:
        epochs = math.ceil(max(self.rewind_iteration, 1) / self.iterations_per_epoch)
        replay = Level(0, self.full_masks(), self.theta0(), epochs)
        result = self._train(self.dense, replay, snapshot_at=self.rewind_iteration, checkpoint=False)
        if result.snapshot_state is None:
            raise ConfigError(f"no θk: dense training stopped early, before iteration "
                              f"{self.rewind_iteration}; choose an earlier rewind_point")
        save_torch(result.snapshot_state, path)

    def share_dense(self) -> None:
        """An arm's level 0 is the shared dense network: record it under the arm's name."""
        if self.run.is_done(0):
            return
        metrics = self.ensure_dense()
        masks = self.full_masks()
        metrics["row"] = {**metrics["row"], **self._identity(0), "shared_from": self.dense.hash}
        metrics["layers"] = layer_table(masks)
        save_torch(masks, self.run.file(0, "mask.pt"))
        save_json(metrics, self.run.file(0, "metrics.json"))
        if self.record:
            self.store.record(metrics)

    # -- trunks and branches ---------------------------------------------------------------
    def run_levels(self, max_level: int | None = None) -> pd.DataFrame:
        last = self.cfg.prune.levels if max_level is None else min(max_level, self.cfg.prune.levels)
        self.share_dense()
        trunk = None if self.arm.is_trunk else Runner(self.trunk_config(), self.store, self.progress, self.record)
        for index in range(1, last + 1):
            if self.run.is_done(index):
                continue
            with self.run.claim(index):
                if self.run.is_done(index):  # another process trained it while we waited
                    continue
                level = self.trunk_level(index) if trunk is None else self.branch_level(trunk, index)
                result = self._train(self.run, level)
                self._finish(self.run, level, result, keep_final=trunk is None)
        if not self.record:  # the tables are the coordinator's: the rows from this run's own files
            return pd.DataFrame([self.run.metrics(level)["row"] for level in self.run.levels_done()])
        runs = self.store.runs()
        return runs[runs["config_hash"] == self.run.hash] if not runs.empty else runs

    def trunk_config(self) -> ExperimentConfig:
        """A branch's trunk (its mask's source): the winning ticket unless its arm says otherwise;
        for a transfer arm, the source dataset's winning ticket."""
        return trunk_of(self.cfg)

    def trunk_level(self, index: int) -> Level:
        previous = self.dense if index == 1 else self.run
        trained = load_torch(previous.file(index - 1, "final.pt"), fix=(
            f"delete it and {previous.file(index - 1, 'metrics.json')}, then run the grid again: "
            "that level is trained again to the same numbers"))
        mask_file = self.run.file(index, "mask.pt")
        if not mask_file.exists():  # written before training, so a resumed level keeps its mask
            before = self.full_masks() if index == 1 else load_torch(previous.file(index - 1, "mask.pt"))
            p = self.cfg.prune
            save_torch(magnitude_prune(trained, before, p.fraction, p.scope), mask_file)
        masks = load_torch(mask_file)
        return Level(index, masks, masked(self.reset_point(index, trained), masks), self.arm.epochs(self.cfg))

    def branch_level(self, trunk: "Runner", index: int) -> Level:
        trunk.run_levels(max_level=index)
        mask_file = self.run.file(index, "mask.pt")
        if not mask_file.exists():
            ticket = load_torch(trunk.run.file(index, "mask.pt"))
            masks, search = self.branch_mask(index, ticket)
            save_json(search, self.run.file(index, "mask_search.json"))
            save_torch(masks, mask_file)
        masks = load_torch(mask_file)
        return Level(index, masks, masked(self.reset_point(index, None), masks), self.arm.epochs(self.cfg))

    def branch_mask(self, index: int, ticket: Masks) -> tuple[Masks, dict]:
        """The mask and what finding it cost (epochs of training spent, seconds)."""
        source = self.arm.mask_from
        if source == "trunk":
            return ticket, {"mask_search_epochs": self.trunk_search_epochs(self.trunk_run(), index)}
        if source == "random":
            return random_masks_like(ticket, seed=derive_seed(self.cfg.seed, "random_mask", index)), {
                "mask_search_epochs": 0.0}
        if source in ("source", "source_random"):  # the target pays no search: the source did
            carried = self.transferred_mask(index, ticket)
            if source == "source_random":
                carried = random_masks_like(carried, seed=derive_seed(self.cfg.seed, "random_mask", index))
            return carried, {"mask_search_epochs": 0.0}
        start = time.perf_counter()
        if self.arm.score is not None:
            masks, search = self.score_mask(ticket), {"mask_search_epochs": 0.0}
        elif source == "early_magnitude":
            masks, search = self.early_bird_mask(ticket)
        else:
            raise ConfigError(f"arm {self.arm.name!r}: no mask source {source!r}")
        return masks, {"mask_search_epochs": search.pop("mask_search_epochs"),
                       "mask_search_seconds": time.perf_counter() - start, **search}

    def transferred_mask(self, index: int, ticket: Masks) -> Masks:
        """The source's level-``index`` ticket on this network (:func:`~lthlib.nets.masks.transferred_masks`):
        the rows of words absent from the source's training split masked at random."""
        source_train = load_data(self.cfg.source, self.progress).train
        seen = torch.zeros(len(self.data.vocab), dtype=torch.bool)
        seen[source_train.tokens.long().unique()] = True
        return transferred_masks(ticket, self.full_masks(), self.shapes.embedding_param, (~seen).nonzero().flatten(),
                                 seed=derive_seed(self.cfg.seed, "unseen_rows", index),
                                 output_prefix=self.shapes.output_prefix)

    def source_theta0(self) -> dict[str, torch.Tensor]:
        """The source's θ0, with this network's own θ0 for a tensor of another shape (the head)."""
        source = Runner(self.trunk_config(), self.store, self.progress, self.record).theta0()
        own = self.theta0()
        return {name: source[name] if name in source and source[name].shape == value.shape else value
                for name, value in own.items()}

    def score_mask(self, ticket: Masks) -> Masks:
        """θ0 scored by the arm's method (0 epochs: a few scoring passes only), pruned to the
        ticket's remaining fraction, a global fraction of its total survivors, under ``init_scope``."""
        model = self.skeleton()
        model.load_state_dict(self.theta0())
        batches = None if self.arm.score == "synflow" else self.score_batches(model)
        return prune_at_init(self.arm.score, model, self.full_masks(), remaining_fraction(ticket),
                             batches=batches, scope=self.cfg.init_scope, rounds=self.cfg.synflow_rounds)

    def score_batches(self, model: torch.nn.Module) -> list[tuple]:
        """The first ``score_batches`` training batches of their own seeded order, on the CPU."""
        data, cfg = self.data, self.cfg
        batcher = Batcher(data.train, cfg.train.batch_size, "cpu", max_len=data.config.max_len,
                          lengths_on_cpu=getattr(model, "lengths_on_cpu", False))
        return list(batcher.train_batches(derive_seed(cfg.seed, "score_batches")))[:cfg.score_batches]

    def early_bird_mask(self, ticket: Masks) -> tuple[Masks, dict]:
        """The early-bird mask of the dense run (You et al. 2020) at the ticket's remaining
        fraction under the IMP ``scope``, and its search (:func:`lthlib.nets.early_bird.early_bird_search`)."""
        cfg = self.cfg
        template = self.full_masks()
        return early_bird_search(self.dense_epochs(), template, remaining_fraction(ticket), cfg.prune.scope,
                                 cfg.early_bird_epsilon, max(2, cfg.early_bird_window))

    def trunk_run(self) -> RunDir:
        trunk = self.trunk_config()
        return self.store.run_dir(arm_key(trunk), trunk)

    def trunk_search_epochs(self, trunk: RunDir, index: int) -> float:
        """IMP's price for the level-``index`` mask: every epoch trained before it (dense included)."""
        spent = self.ensure_dense()["row"]["epochs_run"]
        return float(spent + sum(trunk.metrics(level)["row"]["epochs_run"] for level in range(1, index)))

    def dense_epochs(self) -> list[tuple[int, dict[str, torch.Tensor]]]:
        """The dense weights after each epoch (replayed from θ0 when a store lacks them)."""
        metrics = self.ensure_dense()
        epochs = range(1, metrics["row"]["epochs_run"] + 1)
        if not all(self.dense_epoch_path(e).exists() for e in epochs):
            with self.dense.claim(0):
                if not all(self.dense_epoch_path(e).exists() for e in epochs):
                    replay = Level(0, self.full_masks(), self.theta0(), len(epochs))
                    save = lambda epoch, model: save_torch(cpu_state(model), self.dense_epoch_path(epoch))  # noqa: E731
                    self._train(self.dense, replay, on_epoch_end=save, checkpoint=False)
        return [(e, load_torch(self.dense_epoch_path(e))) for e in epochs]

    def reset_point(self, index: int, trained: dict | None) -> dict[str, torch.Tensor]:
        reset = self.arm.reset_to
        if reset == "theta0":
            return self.theta0()
        if reset == "theta_k":
            return self.theta_k()
        if reset == "dense_final":
            self.ensure_dense()
            return load_torch(self.dense.file(0, "final.pt"))
        if reset == "trained" and trained is not None:
            return trained
        if reset == "source_theta0":
            return self.source_theta0()
        if reset in ("fresh_init", "fresh_init_keep_pretrained"):
            return cpu_state(new_network(self.cfg, self.data, derive_seed(self.cfg.seed, "reinit", index),
                                         keep_pretrained=reset == "fresh_init_keep_pretrained"))
        raise ConfigError(f"arm {self.arm.name!r}: cannot reset to {reset!r}")

    # -- one level -------------------------------------------------------------------------
    @functools.cached_property
    def shapes(self) -> torch.nn.Module:
        """One network of the right shape, for what reads names and shapes only (masks, collapse)."""
        return self.skeleton()

    def skeleton(self) -> torch.nn.Module:
        """A network of the right shape, whose weights are about to be overwritten."""
        return build_model(self.cfg.model, len(self.data.vocab), self.data.n_classes, init_seed=0)

    def _train(self, run: RunDir, level: Level, snapshot_at: int | None = None,
               on_epoch_end=None, checkpoint: bool = True) -> TrainResult:
        model = self.skeleton()
        model.load_state_dict(level.start)
        if checkpoint and not run.file(level.index, "mask.pt").exists():
            save_torch(level.masks, run.file(level.index, "mask.pt"))
        name = self.cfg.arm if run is self.run else "dense"
        desc = f"{self.cfg.data.dataset}/{self.cfg.model.name}/{name} s{self.cfg.seed} L{level.index}"
        return train_model(model, level.masks, self.data, self.cfg.train, seed=self.cfg.seed,
                           checkpoint_path=run.file(level.index, "checkpoint.pt") if checkpoint else None,
                           snapshot_at=snapshot_at, epochs=level.epochs, progress=self.progress,
                           desc=desc, on_epoch_end=on_epoch_end)

    def _identity(self, index: int, dense: bool = False) -> dict:
        cfg = self.cfg
        return {"dataset": cfg.data.dataset, "protocol": cfg.data.protocol, "model": cfg.model.name,
                "source": cfg.source.data.dataset if cfg.source is not None else "",
                "arm": "dense" if dense else cfg.arm, "seed": cfg.seed, "level": index,
                "config_hash": self.dense.hash if dense else self.run.hash,
                "trunk_hash": "" if self.arm.is_trunk else run_hash(self.trunk_config()),
                "prune_fraction": cfg.prune.fraction, "prune_scope": cfg.prune.scope,
                "prunable": cfg.prune.prunable, "rewind_point": cfg.rewind_point,
                "rewind_iteration": self.rewind_iteration}

    def _finish(self, run: RunDir, level: Level, result: TrainResult, keep_final: bool) -> None:
        final = result.final_state
        params = [k for k, v in final.items() if k in level.masks or v.is_floating_point()]
        # cpu_fingerprint: the code this process's CPU libraries ran (README: bit for bit)
        row = {**self._identity(level.index, dense=run is self.dense), **cpu_fingerprint(), "shared_from": "",
               "remaining": remaining_fraction(level.masks),
               "remaining_without_embedding": remaining_fraction(
                   {k: m for k, m in level.masks.items() if k != self.shapes.embedding_param}),
               "n_params": sum(final[k].numel() for k in params),
               "n_nonzero": sum(int(torch.count_nonzero(final[k])) for k in params),
               "best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss,
               "best_val_acc": result.best_val_acc, "test_acc": result.test_acc,
               "final_test_acc": result.final_test_acc, "epochs_run": result.epochs_run,
               "train_seconds": result.train_seconds, "data_hash": data_hash(self.cfg.data),
               "theta0_share": theta0_share(level.start, self.theta0(), level.masks),
               "n_train": len(self.data.train), "n_val": len(self.data.val), "n_test": len(self.data.test)}
        if keep_final:
            save_torch(final, run.file(level.index, "final.pt"))
        search = self._search(run, level.index)
        collapse = collapsed_layers(self.shapes, level.masks)
        row.update(mask_search_epochs=search.pop("mask_search_epochs", math.nan),
                   mask_search_seconds=search.pop("mask_search_seconds", math.nan),
                   early_bird_found=float(search.pop("early_bird_found", math.nan)),
                   early_bird_epoch=search.pop("early_bird_epoch", math.nan),
                   collapsed=network_collapsed(self.shapes, level.masks))
        metrics = {"row": row, "epochs": result.epochs, "layers": layer_table(level.masks),
                   "collapse": collapse, "mask_distance": search.pop("mask_distance", []),
                   "test_predictions": encode_classes(result.test_predictions),
                   "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        if run is self.dense:
            metrics["test_labels"] = encode_classes(self.data.test.labels)
        save_json(metrics, run.file(level.index, "metrics.json"))
        run.file(level.index, "checkpoint.pt").unlink(missing_ok=True)
        if run is not self.dense and self.record:  # the shared dense level enters the tables under each arm
            self.store.record(metrics)


    def _search(self, run: RunDir, index: int) -> dict:
        """What finding this level's mask cost: saved by a branch beside its mask; for a trunk,
        every epoch its IMP trained before this level."""
        saved = run.file(index, "mask_search.json")
        if saved.exists():
            return json.loads(saved.read_text())
        if run is self.dense or index == 0:
            return {"mask_search_epochs": 0.0}
        return {"mask_search_epochs": self.trunk_search_epochs(run, index)}


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------

def run(cfg: ExperimentConfig, store: Store, *, max_level: int | None = None,
        progress: bool = True, record: bool = True) -> pd.DataFrame:
    """Train every level of one configuration that the store lacks; return its runs.csv rows
    (on the CPU on one thread, so the numbers do not depend on the machine's cores).
    ``record=False``: leave the tidy tables to the coordinating process (a grid's worker)."""
    with cpu_threads(resolve_device(cfg.train.device)):
        return Runner(cfg, store, progress, record).run_levels(max_level)

