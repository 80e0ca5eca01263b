"""Iterative magnitude pruning and the ways to reset a pruned network (the arms).

Every arm starts from the same dense network: level 0 trains θ0 (seeded by the run's seed) with
no mask, and is shared by all arms of one (data, model, training, seed) through its own store
folder, which also keeps θ0 and θk.  Level L ≥ 1 trains a network with
``remaining = (1 - fraction) ** L`` of each prunable tensor.

Trunks (a trajectory of their own: level L prunes the trained weights of level L - 1):

- ``winning_ticket``  survivors rewound to θ0 (Frankle & Carbin 2019).
- ``late_rewinding``  survivors rewound to θk, the weights after k training iterations of
  level 0 (``rewind_point`` '1ep' or '500it'; Frankle et al. 2019, "Stabilizing the LTH").
- ``dense_rewinding`` survivors rewound to the weights at the end of level-0 training.  This is
  what the reproduced study called "late rewinding"; it is kept, under an honest name, to compare
  with the study's table.
- ``lr_rewinding``    survivors keep the previous level's trained weights and retrain for the
  full schedule (Renda et al. 2020; with Adam at a constant rate, the schedule is the epochs).
- ``fine_tuning``     survivors keep the previous level's trained weights and train on for
  ``finetune_epochs`` at the final learning rate (Renda et al. 2020).
- ``random_reinit`` with ``reinit_mode='study'``: the study's variant, a trajectory of its own
  where each level prunes the re-initialised network's trained weights.

Branches (off the winning-ticket trunk of the same configuration, one per level):

- ``random_reinit``   the trunk's mask at level L with a fresh random initialisation (the LTH
  control).  GloVe embeddings are data, not initialisation: they are kept, and only the rows of
  words GloVe lacks are drawn anew.
- ``random_pruning``  a random mask with the trunk's per-tensor sparsity at level L, from θ0.

Every level is resumable: its mask is written before training, training checkpoints each epoch,
and ``metrics.json`` marks it done, so a rerun is a no-op and a killed run picks up where it
stopped.
"""
from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Iterable

import pandas as pd
import torch

from . import config as C
from .config import ConfigError, ExperimentConfig, derive_seed, fingerprint, parse_rewind_point
from .data import DataUnavailable, PreparedData, prepare
from .masks import (Masks, full_masks, layer_table, magnitude_prune, prunable_names,
                    random_masks_like, remaining_fraction)
from .models import build_model
from .store import RunDir, Store, load_torch, save_json, save_torch
from .train import TrainResult, train_model

ARM_DESCRIPTIONS = {
    "winning_ticket": "IMP, survivors rewound to θ0",
    "late_rewinding": "IMP, survivors rewound to θk (weights after k iterations)",
    "dense_rewinding": "IMP, survivors rewound to the end of dense training (the study's 'late rewinding')",
    "lr_rewinding": "IMP, survivors keep trained weights and retrain the full schedule",
    "fine_tuning": "IMP, survivors keep trained weights and train on a few epochs",
    "random_reinit": "winning-ticket mask, fresh random initialisation",
    "random_pruning": "random mask of the ticket's per-tensor sparsity, from θ0",
}

_DATA_CACHE: dict[str, PreparedData] = {}
_EMBEDDING_CACHE: dict[tuple, torch.Tensor] = {}


# ---------------------------------------------------------------------------------------------
# Shared inputs: data, embeddings, fresh networks
# ---------------------------------------------------------------------------------------------

def load_data(cfg: ExperimentConfig, progress: bool = True) -> PreparedData:
    key = fingerprint(cfg.data)
    if key not in _DATA_CACHE:
        _DATA_CACHE[key] = prepare(cfg.data, progress=progress)
    return _DATA_CACHE[key]


def load_embedding(cfg: ExperimentConfig, data: PreparedData, seed: int) -> torch.Tensor | None:
    if cfg.model.embedding != "glove":
        return None
    from .embeddings import glove_matrix
    key = (data.fingerprint, cfg.model.embed_dim, seed)
    if key not in _EMBEDDING_CACHE:
        _EMBEDDING_CACHE[key], _ = glove_matrix(data.vocab, cfg.model.embed_dim, seed=seed)
    return _EMBEDDING_CACHE[key]


def new_network(cfg: ExperimentConfig, data: PreparedData, init_seed: int) -> torch.nn.Module:
    embedding = load_embedding(cfg, data, seed=init_seed)
    return build_model(cfg.model, len(data.vocab), data.n_classes, init_seed=init_seed,
                       embedding=embedding)


def masked(state: dict[str, torch.Tensor], masks: Masks) -> dict[str, torch.Tensor]:
    return {name: value * masks[name].to(value.dtype) if name in masks else value.clone()
            for name, value in state.items()}


def cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


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

    def __init__(self, cfg: ExperimentConfig, store: Store, progress: bool = True):
        self.cfg = cfg.validate()
        self.store = store
        self.progress = progress
        self.data = load_data(cfg, progress)
        self.iterations_per_epoch = math.ceil(len(self.data.train) / cfg.train.batch_size)
        self.rewind_iteration = self._rewind_iteration()
        self.run = store.run_dir(cfg)
        self.dense = store.run_dir(self._dense_key())

    # -- level 0: the dense network every arm shares ---------------------------------------
    def _dense_key(self) -> dict:
        cfg = self.cfg
        return {"kind": "dense", "data": dataclasses.asdict(cfg.data),
                "model": dataclasses.asdict(cfg.model), "train": dataclasses.asdict(cfg.train),
                "seed": cfg.seed, "rewind_iteration": self.rewind_iteration}

    def _rewind_iteration(self) -> int:
        amount, unit = parse_rewind_point(self.cfg.rewind_point)
        k = amount * self.iterations_per_epoch if unit == "ep" else amount
        total = self.cfg.train.epochs * self.iterations_per_epoch
        if self.cfg.arm == "late_rewinding" and k >= total:
            raise ConfigError(f"rewind point {self.cfg.rewind_point!r} is iteration {k}, at or past "
                              f"the end of training ({total} iterations); choose an earlier one")
        return min(k, total)

    def theta0(self) -> dict[str, torch.Tensor]:
        path = self.dense.path / "theta0.pt"
        if not path.exists():
            save_torch(cpu_state(new_network(self.cfg, self.data, derive_seed(self.cfg.seed, "init"))), path)
        return load_torch(path)

    def ensure_dense(self) -> dict:
        """Train level 0 once per (data, model, training, seed); return its metrics."""
        if not self.dense.is_done(0):
            theta0 = self.theta0()
            skeleton = self.skeleton()
            masks = full_masks(skeleton, prunable_names(skeleton, self.cfg.prune))
            level = Level(0, masks, theta0, self.cfg.train.epochs)
            result = self._train(self.dense, level, snapshot_at=self.rewind_iteration)
            if result.snapshot_state is not None:  # None only if early stopping came first
                save_torch(result.snapshot_state, self.dense.path / "theta_k.pt")
            self._finish(self.dense, level, result, arm="dense", keep_final=True)
        return self.dense.metrics(0)

    def share_dense(self, run: RunDir, arm: str) -> None:
        """An arm's level 0 is the shared dense network: record it under the arm's name."""
        if run.is_done(0):
            return
        metrics = self.ensure_dense()
        metrics["row"] = {**metrics["row"], **self._identity(run, arm, 0), "shared_from": self.dense.hash}
        save_torch(load_torch(self.dense.file(0, "mask.pt")), run.file(0, "mask.pt"))
        save_json(metrics, run.file(0, "metrics.json"))
        self.store.record(metrics)

    # -- trunks and branches ---------------------------------------------------------------
    def run_levels(self, max_level: int | None = None) -> pd.DataFrame:
        last = self.cfg.prune.levels if max_level is None else min(max_level, self.cfg.prune.levels)
        self.share_dense(self.run, self.cfg.arm)
        is_branch = self.cfg.arm in C.BRANCH_ARMS and not (
            self.cfg.arm == "random_reinit" and self.cfg.reinit_mode == "study")
        trunk = Runner(self.trunk_config(), self.store, self.progress) if is_branch else None
        for index in range(1, last + 1):
            if self.run.is_done(index):
                continue
            level = self.branch_level(trunk, index) if trunk else self.trunk_level(index)
            result = self._train(self.run, level)
            self._finish(self.run, level, result, arm=self.cfg.arm, keep_final=trunk is None)
        runs = self.store.runs()
        return runs[runs["config_hash"] == self.run.hash] if not runs.empty else runs

    def trunk_config(self) -> ExperimentConfig:
        return replace(self.cfg, arm="winning_ticket", reinit_mode="branch")

    def trunk_level(self, index: int) -> Level:
        previous = self.dense if index == 1 else self.run
        trained = load_torch(previous.file(index - 1, "final.pt"))
        mask_file = self.run.file(index, "mask.pt")
        if not mask_file.exists():  # written before training, so a resumed level keeps its mask
            before = load_torch(previous.file(index - 1, "mask.pt"))
            p = self.cfg.prune
            save_torch(magnitude_prune(trained, before, p.fraction, p.scope), mask_file)
        masks = load_torch(mask_file)
        start, epochs = self.reset_point(index, trained), self.cfg.train.epochs
        if self.cfg.arm == "fine_tuning":
            epochs = self.cfg.finetune_epochs
        return Level(index, masks, masked(start, masks), epochs)

    def reset_point(self, index: int, trained: dict) -> dict[str, torch.Tensor]:
        arm = self.cfg.arm
        if arm == "winning_ticket":
            return self.theta0()
        if arm == "late_rewinding":
            theta_k = self.dense.path / "theta_k.pt"
            if not theta_k.exists():
                raise ConfigError(f"no θk: dense training stopped early, before iteration "
                                  f"{self.rewind_iteration}; choose an earlier rewind_point")
            return load_torch(theta_k)
        if arm == "dense_rewinding":
            return load_torch(self.dense.file(0, "final.pt"))
        if arm in ("lr_rewinding", "fine_tuning"):
            return trained
        if arm == "random_reinit":  # the study's variant: its own trajectory
            return self.fresh_init(index)
        raise ConfigError(f"arm {arm!r} has no reset point")

    def fresh_init(self, index: int) -> dict[str, torch.Tensor]:
        seed = derive_seed(self.cfg.seed, "reinit", index)
        return cpu_state(new_network(self.cfg, self.data, seed))

    def branch_level(self, trunk: "Runner", index: int) -> Level:
        trunk.run_levels(max_level=index)
        ticket = load_torch(trunk.run.file(index, "mask.pt"))
        mask_file = self.run.file(index, "mask.pt")
        if not mask_file.exists():
            if self.cfg.arm == "random_pruning":
                masks = random_masks_like(ticket, seed=derive_seed(self.cfg.seed, "random_mask", index))
            else:
                masks = ticket
            save_torch(masks, mask_file)
        masks = load_torch(mask_file)
        start = self.theta0() if self.cfg.arm == "random_pruning" else self.fresh_init(index)
        return Level(index, masks, masked(start, masks), self.cfg.train.epochs)

    # -- one level -------------------------------------------------------------------------
    def skeleton(self) -> torch.nn.Module:
        """A network of the right shape, whose weights are about to be overwritten."""
        return build_model(self.cfg.model, len(self.data.vocab), self.data.n_classes, init_seed=0)

    def _train(self, run: RunDir, level: Level, snapshot_at: int | None = None) -> TrainResult:
        model = self.skeleton()
        model.load_state_dict(level.start)
        if not run.file(level.index, "mask.pt").exists():
            save_torch(level.masks, run.file(level.index, "mask.pt"))
        desc = f"{self.cfg.data.dataset}/{self.cfg.model.name}/{self.cfg.arm if run is self.run else 'dense'}" \
               f" s{self.cfg.seed} L{level.index}"
        return train_model(model, level.masks, self.data, self.cfg.train, seed=self.cfg.seed,
                           checkpoint_path=run.file(level.index, "checkpoint.pt"),
                           snapshot_at=snapshot_at, epochs=level.epochs,
                           progress=self.progress, desc=desc)

    def _identity(self, run: RunDir, arm: str, index: int) -> dict:
        cfg = self.cfg
        return {"dataset": cfg.data.dataset, "model": cfg.model.name, "arm": arm, "seed": cfg.seed,
                "level": index, "config_hash": run.hash,
                "trunk_hash": fingerprint(self.trunk_config()) if arm in C.BRANCH_ARMS else "",
                "prune_fraction": cfg.prune.fraction, "prune_scope": cfg.prune.scope,
                "prunable": cfg.prune.prunable, "rewind_point": cfg.rewind_point,
                "rewind_iteration": self.rewind_iteration, "reinit_mode": cfg.reinit_mode}

    def _finish(self, run: RunDir, level: Level, result: TrainResult, arm: str, keep_final: bool) -> None:
        final = result.final_state
        n_params = sum(v.numel() for k, v in final.items() if _is_parameter(k, level.masks, final))
        row = {**self._identity(run, arm, level.index), "shared_from": "",
               "remaining": remaining_fraction(level.masks),
               "n_params": n_params,
               "n_nonzero": int(sum(int(torch.count_nonzero(v)) for k, v in final.items()
                                    if _is_parameter(k, level.masks, final))),
               "best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss,
               "best_val_acc": result.best_val_acc, "test_acc": result.test_acc,
               "final_test_acc": result.final_test_acc, "epochs_run": result.epochs_run,
               "train_seconds": result.train_seconds,
               "n_train": len(self.data.train), "n_val": len(self.data.val), "n_test": len(self.data.test)}
        if keep_final:
            save_torch(final, run.file(level.index, "final.pt"))
        metrics = {"row": row, "epochs": result.epochs, "layers": layer_table(level.masks),
                   "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        save_json(metrics, run.file(level.index, "metrics.json"))
        run.file(level.index, "checkpoint.pt").unlink(missing_ok=True)
        if run is not self.dense:  # the shared dense level enters the tables under each arm
            self.store.record(metrics)


def _is_parameter(name: str, masks: Masks, state: dict) -> bool:
    """State-dict entries that are parameters (no buffers such as BatchNorm statistics)."""
    return name in masks or state[name].is_floating_point()


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------

def run(cfg: ExperimentConfig, store: Store, *, max_level: int | None = None,
        progress: bool = True) -> pd.DataFrame:
    """Train every level of one configuration that the store lacks; return its runs.csv rows."""
    return Runner(cfg, store, progress).run_levels(max_level)


def run_grid(profile: str, *, datasets: Iterable[str] | None = None,
             models: Iterable[str] | None = None, arms: Iterable[str] = ("winning_ticket",),
             seeds: Iterable[int] | None = None, max_level: int | None = None,
             store: Store | None = None, progress: bool = True, workers: int | None = None,
             **overrides) -> pd.DataFrame:
    """Run a grid of (dataset, model, seed, arm) cells under a profile.

    A dataset whose files cannot be had is skipped, and its status rows say why.  Cells of one
    (dataset, model, seed) run in order (branches need their trunk); different ones run in
    ``workers`` processes at once (default: one per CPU core without a GPU, else one), each on
    its own share of the cores: on a small CPU, several single-threaded trainings beat one
    multi-threaded one.  Returns (and stores in status.csv) one row per cell.
    """
    if profile not in C.PROFILE_GRIDS:
        raise ConfigError(f"unknown profile {profile!r}; valid: {', '.join(C.PROFILES)}")
    grid = C.PROFILE_GRIDS[profile]
    store = store or Store(C.results_dir(profile))
    arms = list(arms)
    for arm in arms:
        if arm not in C.ARMS:
            raise ConfigError(f"unknown arm {arm!r}; valid: {', '.join(C.ARMS)}")
    groups: dict[tuple, list[ExperimentConfig]] = {}
    for d in (datasets or grid.datasets):
        for m in (models or grid.models):
            for s in (grid.seeds if seeds is None else seeds):
                groups[(d, m, s)] = [C.experiment(profile, d, m, arm, s, **overrides) for arm in arms]

    status, runnable = [], []
    for group in groups.values():
        try:  # prepares (and caches) the data once, here, before any worker needs it
            load_data(group[0], progress)
            runnable.append(group)
        except DataUnavailable as error:
            status += [_cell(cfg, "skipped", f"data unavailable: {error}") for cfg in group]
    for dataset in sorted({row["dataset"] for row in status}):
        print(f"SKIPPED {dataset}: " + next(r["reason"] for r in status if r["dataset"] == dataset))

    workers = _default_workers(len(runnable)) if workers is None else max(1, int(workers))
    if workers == 1:
        for group in runnable:
            status += _run_group(group, store.root, max_level, progress)
    else:
        status += _run_in_workers(runnable, store.root, max_level, workers)
    store.record_status(status)
    return pd.DataFrame(status)


def _cell(cfg: ExperimentConfig, status: str, reason: str = "", levels_done: int = 0) -> dict:
    return {"dataset": cfg.data.dataset, "model": cfg.model.name, "arm": cfg.arm, "seed": cfg.seed,
            "config_hash": fingerprint(cfg), "status": status, "reason": reason,
            "levels_done": levels_done}


def _run_group(group: list[ExperimentConfig], root, max_level, progress: bool) -> list[dict]:
    store, status = Store(root), []
    for cfg in group:
        try:
            rows = run(cfg, store, max_level=max_level, progress=progress)
            status.append(_cell(cfg, "done", levels_done=len(rows)))
        except ConfigError as error:  # found only with the data (e.g. a rewind point too late)
            print(f"REFUSED {cfg.data.dataset}/{cfg.model.name}/{cfg.arm}: {error}")
            status.append(_cell(cfg, "skipped", f"configuration refused: {error}"))
    return status


def _default_workers(n_groups: int) -> int:
    if torch.cuda.is_available():
        return 1
    return max(1, min(os.cpu_count() or 1, n_groups))


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _run_in_workers(groups: list[list[ExperimentConfig]], root, max_level, workers: int) -> list[dict]:
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")  # fork would copy torch's thread pools
    status = []
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(threads,)) as pool:
        futures = {pool.submit(_run_group, group, root, max_level, False): group for group in groups}
        for future in as_completed(futures):
            cfg = futures[future][0]
            rows = future.result()
            print(f"done {cfg.data.dataset}/{cfg.model.name} seed {cfg.seed}: "
                  f"{', '.join(r['arm'] for r in rows)}", flush=True)
            status += rows
    return status
