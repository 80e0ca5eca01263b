"""Iterative magnitude pruning: trunks and branches, level by level, resumable (one configuration).

Every arm (:mod:`lthlib.experiment.arms`) starts from the same dense network: level 0 trains θ0 (seeded by
the run's seed) with no mask, once per (data, model, training, seed), in its own store folder
that also keeps θ0, θk and the weights after every dense epoch.  Level L ≥ 1 trains a network
with ``remaining = (1 - fraction) ** L`` of each prunable tensor: the arm's mask strategy
chooses that mask and its start strategy the weights its survivors start from
(:mod:`lthlib.experiment.branches`), both from a :class:`~lthlib.experiment.branches.context.Context`
the runner hands them.  A *trunk* prunes its own level L - 1; a *branch* reads its trunk, whose
levels up to L are trained first.  Which folders hold what: :mod:`lthlib.experiment.lineage`.

Every level is resumable: its mask is written before training, training checkpoints each epoch,
and ``metrics.json`` marks it done, so a rerun is a no-op and a killed run picks up where it
stopped.  A level trains under its claim (:meth:`lthlib.experiment.store.RunDir.claim`), so two
processes (two hosts sharing the store) asking for it train it once: the second waits and finds
it done.  Claims are taken branch, then trunk, then dense, never the other way round.
"""
from __future__ import annotations

import functools
import math
import warnings

import pandas as pd
import torch

from ..core.config import ConfigError, ExperimentConfig, data_hash, derive_seed
from ..data.prepare import PreparedData, prepared
from ..machine.files import DamagedFile, cpu_state, load_json, load_torch, save_json, save_torch
from ..machine.platform import cpu_threads, resolve_device
from ..nets.masks import Masks, full_masks, layer_table, prunable_names
from ..nets.models import build_model, scale_matched_embedding
from .arms import Arm, arm, rewind_iteration
from .branches.context import Context, State
from .level import Level, level_metrics, masked
from .lineage import lineage
from .profiles import validate
from .store import RunDir, Store, encode_classes
from .train import TrainResult, train_model

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
    copied in (``keep_pretrained``) or replaced by random vectors of its scale; a pretrained
    model's pretrained values are copied over the draw (``keep_pretrained``) or not (its own
    initialisation: a re-initialised encoder)."""
    embedding = load_embedding(cfg, data, seed=init_seed)
    if embedding is not None and not keep_pretrained:
        embedding = scale_matched_embedding(embedding, derive_seed(init_seed, "embedding"))
    return build_model(cfg.model, len(data.vocab), data.n_classes, init_seed=init_seed,
                       embedding=embedding, pretrained=keep_pretrained)


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
        self.lineage = lineage(cfg, store.root)
        self.run = self.lineage.own.ensure()
        self.dense = self.lineage.dense.ensure()

    @functools.cached_property
    def trunk(self) -> "Runner | None":
        """The runner of the trunk this configuration's masks come from; None for a trunk."""
        trunk = self.lineage.trunk
        return None if trunk is None else Runner(trunk.cfg, self.store, self.progress, self.record)

    # -- level 0: the dense network every arm shares ---------------------------------------
    def theta0(self) -> State:
        path = self.dense.path / "theta0.pt"
        if not path.exists():
            save_torch(cpu_state(new_network(self.cfg, self.data, derive_seed(self.cfg.seed, "init"))), path)
        return load_torch(path, fix=REMADE_FIX.format(what="θ0 is drawn again from the run's seed"))

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

    def theta_k(self) -> State:
        """θk at this config's rewind point; replayed from θ0 (deterministically) when dense
        training was run for another rewind point."""
        path = self.theta_k_path(self.rewind_iteration)
        if not path.exists():
            self.ensure_dense()
        if not path.exists():
            with self.dense.claim(0):
                if not path.exists():
                    self._replay_theta_k(path)
        return load_torch(path, fix=REMADE_FIX.format(what="θk is replayed from θ0"))

    def _replay_theta_k(self, path) -> None:
        epochs = math.ceil(max(self.rewind_iteration, 1) / self.iterations_per_epoch)
        replay = Level(0, self.full_masks(), self.theta0(), epochs)
        result = self._train(self.dense, replay, snapshot_at=self.rewind_iteration, checkpoint=False)
        if result.snapshot_state is None:
            raise ConfigError(f"no θk: dense training stopped early, before iteration "
                              f"{self.rewind_iteration}; choose an earlier rewind_point")
        save_torch(result.snapshot_state, path)

    def dense_final(self) -> State:
        """The dense network's weights at the end of its training."""
        self.ensure_dense()
        return stored(self.dense, 0, "final.pt")

    def dense_epochs(self) -> list[tuple[int, State]]:
        """The dense weights after each epoch (replayed from θ0 when a store lacks them)."""
        metrics = self.ensure_dense()
        epochs = range(1, metrics["row"]["epochs_run"] + 1)
        if not all(self.dense_epoch_path(e).exists() for e in epochs):
            with self.dense.claim(0):
                if not all(self.dense_epoch_path(e).exists() for e in epochs):
                    replay = Level(0, self.full_masks(), self.theta0(), len(epochs))
                    save = lambda epoch, model: save_torch(cpu_state(model), self.dense_epoch_path(epoch))  # noqa: E731
                    self._train(self.dense, replay, on_epoch_end=save, checkpoint=False)
        fix = REMADE_FIX.format(what="the dense epochs are replayed from θ0")
        return [(e, load_torch(self.dense_epoch_path(e), fix=fix)) for e in epochs]

    def share_dense(self) -> None:
        """An arm's level 0 is the shared dense network: record it under the arm's name.  The
        dense level is made sure of first, so a missing or damaged dense ``metrics.json`` is
        trained again (to the same numbers) even where the arm's copy is whole."""
        metrics = self.ensure_dense()
        if self.run.is_done(0):
            return
        masks = self.full_masks()
        metrics["row"] = {**metrics["row"], **self.identity(0), "shared_from": self.dense.hash}
        metrics["layers"] = layer_table(masks)
        save_torch(masks, self.run.file(0, "mask.pt"))
        save_json(metrics, self.run.file(0, "metrics.json"))
        if self.record:
            self.store.record(metrics)

    # -- levels 1..L, as the arm's strategies make them ------------------------------------
    def run_levels(self, max_level: int | None = None) -> pd.DataFrame:
        self.share_dense()
        trunk = self.trunk  # None for a trunk, which keeps its final weights: its next level prunes them
        for index in self.lineage.own_levels(max_level):
            if self.run.is_done(index):
                continue
            with self.run.claim(index):
                if self.run.is_done(index):  # another process trained it while we waited
                    continue
                level = self.level(index)
                result = self._train(self.run, level)
                self._finish(self.run, level, result, keep_final=trunk is None)
        if not self.record:  # the tables are the coordinator's: the rows from this run's own files
            return pd.DataFrame([self.run.metrics(level)["row"] for level in self.run.levels_done()])
        runs = self.store.runs()
        return runs[runs["config_hash"] == self.run.hash] if not runs.empty else runs

    def level(self, index: int) -> Level:
        """Level ``index`` as the arm composes it: the mask its mask strategy finds (saved before
        training with what it cost, so a resumed level keeps it), the survivors starting where its
        start strategy says."""
        if self.trunk is not None:
            self.trunk.run_levels(max_level=index)
        context = self.context(index)
        masks = self._saved_mask(index)
        if masks is None:
            masks, search = self.arm.mask.find(context)
            save_json(search, self.run.file(index, "mask_search.json"))
            save_torch(masks, self.run.file(index, "mask.pt"))
        return Level(index, masks, masked(self.arm.start.weights(context), masks), self.arm.epochs(self.cfg))

    def _saved_mask(self, index: int) -> Masks | None:
        """The mask an unfinished level saved before it trained; None when there is none, or
        when it is damaged (said): the mask strategy finds it again."""
        path = self.run.file(index, "mask.pt")
        try:
            return load_torch(path)
        except FileNotFoundError:
            return None
        except DamagedFile as error:
            warnings.warn(f"{error}; finding level {index}'s mask again", stacklevel=2)
            return None

    def context(self, index: int) -> Context:
        """What this configuration's strategies may read at level ``index``."""
        return Context(self.cfg, index, self.data, self.shapes, self.skeleton,
                       functools.partial(new_network, self.cfg, self.data), self.theta0, self.theta_k,
                       self.dense_final, self.dense_epochs, self.mask_at, self.trained_at, self.search_epochs,
                       trunk=None if self.trunk is None else self.trunk.context(index))

    def mask_at(self, index: int) -> Masks:
        """The mask of this run's finished level ``index`` (0: the full one)."""
        return self.full_masks() if index == 0 else stored(self.run, index, "mask.pt")

    def trained_at(self, index: int) -> State:
        """The final weights of this lineage's finished level ``index`` (0: the dense one)."""
        if index == 0:
            return self.dense_final()
        return stored(self.lineage.level_dir(index), index, "final.pt")

    def search_epochs(self, index: int) -> float:
        """IMP's price for this lineage's level-``index`` mask: every epoch trained before it
        (dense included)."""
        spent = self.ensure_dense()["row"]["epochs_run"]
        return float(spent + sum(self.run.metrics(level)["row"]["epochs_run"] for level in range(1, index)))

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

    def identity(self, index: int, dense: bool = False) -> dict:
        """Who a level is, as its runs.csv row says."""
        cfg, trunk = self.cfg, self.lineage.trunk
        return {"dataset": cfg.data.dataset, "protocol": cfg.data.protocol, "model": cfg.model.name,
                "source": cfg.source.data.dataset if cfg.source is not None else "",
                "arm": "dense" if dense else cfg.arm, "seed": cfg.seed, "level": index,
                "config_hash": self.dense.hash if dense else self.run.hash,
                "trunk_hash": "" if trunk is None else trunk.own.hash,
                "prune_fraction": cfg.prune.fraction, "prune_scope": cfg.prune.scope,
                "prunable": cfg.prune.prunable, "rewind_point": cfg.rewind_point,
                "rewind_iteration": self.rewind_iteration}

    def _finish(self, run: RunDir, level: Level, result: TrainResult, keep_final: bool) -> None:
        dense = run is self.dense
        metrics = level_metrics(level, result, identity=self.identity(level.index, dense=dense), data=self.data,
                                data_hash=data_hash(self.cfg.data), shapes=self.shapes, theta0=self.theta0(),
                                search=self._search(run, level.index))
        if keep_final:
            save_torch(result.final_state, run.file(level.index, "final.pt"))
        if dense:
            metrics["test_labels"] = encode_classes(self.data.test.labels)
        save_json(metrics, run.file(level.index, "metrics.json"))
        run.file(level.index, "checkpoint.pt").unlink(missing_ok=True)
        if not dense and self.record:  # the shared dense level enters the tables under each arm
            self.store.record(metrics)

    def _search(self, run: RunDir, index: int) -> dict:
        """What finding this level's mask cost, saved beside its mask (nothing for the dense
        network; a trunk level of a store older than that: its IMP's price)."""
        saved = run.file(index, "mask_search.json")
        if saved.exists():
            return load_json(saved)
        if run is self.dense or index == 0:
            return {"mask_search_epochs": 0.0}
        return {"mask_search_epochs": self.search_epochs(index)}


# ---------------------------------------------------------------------------------------------
# What finished levels left
# ---------------------------------------------------------------------------------------------

#: the fix for a damaged file the runner makes again when it is missing (θ0, θk, dense epochs)
REMADE_FIX = "delete it, then run the same grid again: {what}, the same"


def stored(folder: RunDir, index: int, name: str):
    """A file level ``index`` of ``folder`` left when it finished (its weights, its mask); a
    missing or damaged one is a :class:`~lthlib.machine.files.DamagedFile` naming it, with the
    fix: without its ``metrics.json`` the level is trained again (to the same numbers), and
    writes the file again."""
    path, marker = folder.file(index, name), folder.file(index, "metrics.json")
    return load_torch(path, missing=True, fix=(
        f"delete {marker} (and {path} if it is there), then run the same grid again: level {index} is "
        "trained again to the same numbers"))


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

