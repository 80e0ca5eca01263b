"""Which run folders a configuration reads and writes: its lineage, in one place.

A configuration's networks live in up to three run folders of the store:

``dense``  level 0, shared by every arm of one (data, model, training, seed): θ0, θk, the
           weights after every dense epoch, and the dense network itself
``trunk``  the trunk a branch takes its mask from (its arm's ``trunk``; for a transfer arm the
           source dataset's winning ticket), with its own lineage; None for a trunk
``own``    its levels 1..L (its level 0 is a copy of the dense level's metrics)

The runner trains them, the progress bar and the campaign count them, deploy reads them: all
through :func:`lineage`, so none of them works out a folder by itself.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ..core.config import ExperimentConfig, dense_key
from .arms import arm, arm_key, trunk_config
from .store import RunDir

#: the file whose presence marks a level done (see :meth:`RunDir.is_done`)
DONE_MARKER = "metrics.json"


@dataclass(frozen=True)
class Lineage:
    cfg: ExperimentConfig
    dense: RunDir
    own: RunDir
    trunk: "Lineage | None"

    def level_dir(self, level: int) -> RunDir:
        """The folder that holds this configuration's level ``level`` (0: the dense one)."""
        return self.dense if level == 0 else self.own

    def last_level(self, max_level: int | None = None) -> int:
        levels = self.cfg.prune.levels
        return levels if max_level is None else min(max_level, levels)

    def own_levels(self, max_level: int | None = None) -> list[int]:
        """The pruned levels its own folder trains, up to ``max_level``: every one for a trunk
        (each prunes the one before); a branch's ``branch_levels`` where the profile names them."""
        levels = range(1, self.last_level(max_level) + 1)
        chosen = self.cfg.prune.branch_levels
        return [level for level in levels if self.trunk is None or not chosen or level in chosen]

    def networks(self, max_level: int | None = None) -> list[tuple[RunDir, int]]:
        """Every network training this configuration up to ``max_level`` needs, each once, in the
        order they train: the dense level, the trunk's levels (a branch), then its own."""
        found = [(self.dense, 0)]
        if self.trunk is not None:
            found += self.trunk.networks(self.last_level(max_level))
        found += [(self.own, level) for level in self.own_levels(max_level)]
        return list({(run.hash, level): (run, level) for run, level in found}.values())

    def markers(self, max_level: int | None = None) -> list[Path]:
        """The ``metrics.json`` of every network in :meth:`networks`."""
        return [run.file(level, DONE_MARKER) for run, level in self.networks(max_level)]

    def run_hashes(self) -> list[str]:
        """The runs whose levels enter the tidy tables: its own and its trunk's (the dense level
        enters them under each arm's name)."""
        return [self.own.hash, *(self.trunk.run_hashes() if self.trunk is not None else [])]


def dense_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """What the dense folder records as its configuration."""
    return replace(cfg, arm="dense", source=None)


def lineage(cfg: ExperimentConfig, root: Path) -> Lineage:
    """The run folders of ``cfg`` in the store at ``root`` (nothing is created)."""
    root = Path(root)
    trunk = None if arm(cfg.arm).is_trunk else lineage(trunk_config(cfg), root)
    return Lineage(cfg, RunDir(root, dense_key(cfg), dense_config(cfg)), RunDir(root, arm_key(cfg), cfg), trunk)
