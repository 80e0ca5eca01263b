"""The arms: how one level's pruned network is made, each one named entry of :data:`ARMS`.

An arm composes two strategies (:mod:`lthlib.experiment.branches`):

``mask``   how its mask at level L is chosen (:mod:`~lthlib.experiment.branches.mask_sources`): IMP on
           its own level L - 1 (a *trunk*), or from a trunk's level L (a *branch*: ``trunk``
           names that trunk arm, the winning ticket unless said otherwise; a transfer's trunk
           is another dataset's winning ticket, ``cfg.source``)
``start``  what its survivors start from (:mod:`~lthlib.experiment.branches.starts`)

``mask_from`` and ``reset_to`` are their names, as the tables and reports read them.  ``reads``
names the :class:`~lthlib.core.config.ExperimentConfig` fields an arm reads beyond the shared
ones: only those enter its run key, so a field an arm ignores cannot split its results.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable

from ..core.config import ConfigError, ExperimentConfig, fingerprint, parse_rewind_point, run_key
from ..core.registry import Registry
from .branches.mask_sources import (
    EarlyMagnitude,
    MaskStrategy,
    OwnTrunk,
    RandomMask,
    ScoreMask,
    TransferredMask,
    TransferredRandomMask,
    TrunkMask,
)
from .branches.starts import DenseFinal, FreshInit, StartStrategy, Theta0, ThetaK, Trained, TrunkTheta0

#: The trunk every branch hangs off.
TICKET = "winning_ticket"


@dataclass(frozen=True)
class Arm:
    name: str
    display: str                 # label in tables and figures
    description: str             # one sentence for the reader
    mask: MaskStrategy           # how its mask at level L is chosen
    start: StartStrategy         # what its survivors start from
    color: str
    notebook: str                # the notebook that trains it (named when a cell is missing)
    reads: tuple[str, ...] = ()  # ExperimentConfig fields it reads (they enter its run key)
    family: str = "rewind"       # control | rewind | init (cheaper tickets) | transfer: its comparison
    trunk: str = TICKET          # a branch: the trunk arm whose mask it takes (or matches)
    #: bumped when what the arm trains changes, so that a store's runs of its older self are
    #: not reused (it enters the run key from 2 on)
    version: int = 1
    study_table: str = ""        # the study's table it reproduces (lthlib.data.datasets.STUDY_TABLES)

    def __post_init__(self) -> None:
        if not isinstance(self.mask, MaskStrategy):
            raise ConfigError(f"arm {self.name!r}: mask {self.mask!r} is no mask strategy "
                              f"(lthlib.experiment.branches.mask_sources)")
        if not isinstance(self.start, StartStrategy):
            raise ConfigError(f"arm {self.name!r}: start {self.start!r} is no start strategy "
                              f"(lthlib.experiment.branches.starts)")
        if self.start.reads_own_levels and not self.is_trunk:
            raise ConfigError(f"arm {self.name!r}: start {self.reset_to!r} reads its previous level's "
                              f"trained weights, which only a trunk keeps (mask {OwnTrunk.name!r})")
        if self.start.reads_trunk and self.is_trunk:
            raise ConfigError(f"arm {self.name!r}: start {self.reset_to!r} reads a trunk, and a trunk has none")

    @property
    def mask_from(self) -> str:
        return self.mask.name

    @property
    def reset_to(self) -> str:
        return self.start.name

    @property
    def is_trunk(self) -> bool:
        return self.mask.prunes_own

    @property
    def transfers(self) -> bool:
        """Whether it takes its mask from another dataset's trunk (``cfg.source``)."""
        return self.mask.across_datasets

    def epochs(self, cfg: ExperimentConfig) -> int:
        return cfg.finetune_epochs if "finetune_epochs" in self.reads else cfg.train.epochs

    def validate(self, cfg: ExperimentConfig) -> None:
        """Refuse what this arm cannot run, before any training."""
        if "rewind_point" in self.reads:
            rewind_iteration(cfg)
        if "finetune_epochs" in self.reads and cfg.finetune_epochs < 1:
            raise ConfigError("finetune_epochs must be >= 1")
        if not self.is_trunk:
            trunk = ARMS.get(self.trunk)
            if not trunk.is_trunk or not set(trunk.reads) <= set(self.reads):
                raise ConfigError(f"arm {self.name!r}: its trunk {self.trunk!r} must be a trunk arm whose "
                                  f"fields ({', '.join(trunk.reads) or 'none'}) it reads too")
        self.start.check(self.name, cfg)
        check_source(self, cfg)


def rows_line_up(source: ExperimentConfig, cfg: ExperimentConfig) -> bool:
    """Whether row i of the two embeddings is the same token: one shared word vocabulary, or one
    pretrained model's own tokenizer (its vocabulary is fixed, whatever the dataset)."""
    if source.data.tokenizer != "words" or cfg.data.tokenizer != "words":
        return source.data.tokenizer == cfg.data.tokenizer
    return bool(cfg.data.shared_vocab) and source.data.shared_vocab == cfg.data.shared_vocab \
        and source.data.max_vocab == cfg.data.max_vocab


def check_source(entry: Arm, cfg: ExperimentConfig) -> None:
    """A transfer arm needs a source trunk it can read: the winning ticket of another dataset,
    in the same vocabulary (one index space), model and pruning schedule."""
    source = cfg.source
    if not entry.transfers:
        if source is not None:
            raise ConfigError(f"arm {entry.name!r} takes no source; only the transfer arms "
                              f"({', '.join(families('transfer'))}) do")
        return
    fix = "build transfer cells with lthlib.experiment.transfer (lth transfer), which sets both"
    if source is None:
        raise ConfigError(f"arm {entry.name!r} transfers a ticket and needs cfg.source, the source "
                          f"dataset's winning-ticket configuration; {fix}")
    if source.arm != TICKET or source.source is not None:
        raise ConfigError(f"a transfer's source must be a winning-ticket trunk, got arm {source.arm!r}")
    if not rows_line_up(source, cfg):
        raise ConfigError(f"{source.data.dataset} -> {cfg.data.dataset}: a mask on the embedding means "
                          f"something only if rows line up, and these two have no shared vocabulary "
                          f"(shared_vocab {list(source.data.shared_vocab)} / {list(cfg.data.shared_vocab)}, "
                          f"max_vocab {source.data.max_vocab} / {cfg.data.max_vocab}); {fix}")
    if source.model != cfg.model:
        raise ConfigError(f"a transfer needs the same network on both sides; the source's model "
                          f"differs ({source.model} / {cfg.model})")
    if (source.prune.fraction, source.prune.scope, source.prune.prunable) != \
            (cfg.prune.fraction, cfg.prune.scope, cfg.prune.prunable) or source.prune.levels < cfg.prune.levels:
        raise ConfigError(f"a transferred level L is the source trunk's level L: the source's pruning "
                          f"({source.prune}) must match the target's ({cfg.prune}) and reach its "
                          f"{cfg.prune.levels} levels")


ARMS: Registry[Arm] = Registry("arm")
_AT_INIT = "06_tickets_without_the_full_price"
_ACROSS = "07_tickets_across_datasets"

for _arm in (
    Arm("winning_ticket", "winning ticket (θ0)", "IMP, survivors rewound to θ0",
        OwnTrunk(), Theta0(), "#1f77b4", "03_winning_tickets", family="control",
        study_table="without_late_rewinding"),
    Arm("random_reinit", "random re-init",
        "winning-ticket mask, every weight re-drawn (a pretrained embedding by random vectors of its scale)",
        TrunkMask(), FreshInit(), "#d62728", "02_random_pruning", family="control", version=2),
    Arm("random_reinit_keep_glove", "random re-init, GloVe kept",
        "winning-ticket mask, every weight re-drawn but the pretrained (GloVe) embedding rows, kept as in θ0",
        TrunkMask(), FreshInit(keep_pretrained=True), "#ff9896", "02_random_pruning", family="control"),
    Arm("random_pruning", "random pruning",
        "random mask of the ticket's per-tensor sparsity, from θ0",
        RandomMask(), Theta0(), "#ff7f0e", "02_random_pruning", family="control"),
    Arm("late_rewinding", "late rewinding (θk)",
        "IMP, survivors rewound to θk (weights after k iterations)",
        OwnTrunk(), ThetaK(), "#2ca02c", "04_late_rewinding", reads=("rewind_point",)),
    Arm("dense_rewinding", "dense rewinding (study's 'late')",
        "IMP, survivors rewound to the end of dense training (the study's 'late rewinding')",
        OwnTrunk(), DenseFinal(), "#9467bd", "04_late_rewinding", study_table="with_late_rewinding"),
    Arm("late_rewinding_reinit", "random re-init of late rewinding's mask",
        "the late-rewinding (θk) trunk's mask, every weight re-drawn",
        TrunkMask(), FreshInit(), "#98df8a", "04_late_rewinding", reads=("rewind_point",), trunk="late_rewinding"),
    Arm("dense_rewinding_reinit", "random re-init of dense rewinding's mask",
        "the dense-rewinding trunk's mask, every weight re-drawn",
        TrunkMask(), FreshInit(), "#c5b0d5", "04_late_rewinding", trunk="dense_rewinding"),
    Arm("lr_rewinding", "LR rewinding",
        "IMP, survivors keep trained weights and retrain the full schedule",
        OwnTrunk(), Trained(), "#8c564b", "04_late_rewinding"),
    Arm("fine_tuning", "fine-tuning",
        "IMP, survivors keep trained weights and train on a few epochs",
        OwnTrunk(), Trained(), "#e377c2", "04_late_rewinding", reads=("finetune_epochs",)),
    Arm("random_reinit_study", "random re-init (study's own IMP)",
        "the study's variant: IMP on a network re-initialised at every level",
        OwnTrunk(), FreshInit(), "#bcbd22", "02_random_pruning", family="control", version=2),
    Arm("snip", "SNIP (at init)",
        "mask from |g ⊙ θ0| on a few batches (Lee et al. 2019) at the ticket's sparsity, from θ0",
        ScoreMask("snip"), Theta0(), "#17becf", _AT_INIT, reads=("init_scope", "score_batches"), family="init"),
    Arm("grasp", "GraSP (at init)",
        "mask from −θ0 ⊙ Hg, gradient flow kept (Wang et al. 2020) at the ticket's sparsity, from θ0",
        ScoreMask("grasp"), Theta0(), "#7f7f7f", _AT_INIT, reads=("init_scope", "score_batches"), family="init"),
    Arm("synflow", "SynFlow (at init, no data)",
        "mask from iterative synaptic flow, data-free (Tanaka et al. 2020) at the ticket's sparsity, from θ0",
        ScoreMask("synflow"), Theta0(), "#aec7e8", _AT_INIT, reads=("init_scope", "synflow_rounds"), family="init"),
    Arm("early_bird", "early-bird ticket",
        "magnitude mask once dense training's masks settle (You et al. 2020), from θ0",
        EarlyMagnitude(), Theta0(), "#dbdb8d", _AT_INIT, reads=("early_bird_epsilon", "early_bird_window"),
        family="init"),
    Arm("transferred_ticket", "transferred ticket",
        "another dataset's winning-ticket mask at this level and its θ0 (its head re-drawn where the classes differ)",
        TransferredMask(), TrunkTheta0(), "#1b9e77", _ACROSS, family="transfer"),
    Arm("transferred_reinit", "transferred mask, re-init",
        "another dataset's winning-ticket mask, every weight re-drawn",
        TransferredMask(), FreshInit(), "#d95f02", _ACROSS, family="transfer"),
    Arm("transferred_random", "random mask, transferred θ0",
        "a random mask with the transferred mask's per-tensor counts, from the transferred θ0",
        TransferredRandomMask(), TrunkTheta0(), "#7570b3", _ACROSS, family="transfer"),
):
    ARMS.register(_arm)


def arm(name: str) -> Arm:
    return ARMS.get(name)


def families(family: str) -> tuple[str, ...]:
    """The names of the registered arms of one family, in registration order."""
    return tuple(a.name for a in ARMS if a.family == family)


def with_mask_from(source: str) -> tuple[str, ...]:
    """The names of the registered arms whose mask strategy is named ``source``
    (:mod:`lthlib.experiment.branches.mask_sources`)."""
    return tuple(a.name for a in ARMS if a.mask_from == source)


def all_arms() -> tuple[str, ...]:
    """Every registered arm of one dataset's grid in the report's order: the trunks, then the
    branches that hang off them, each in registration order (the transfer arms, which need a
    source dataset, run in a transfer grid: :mod:`lthlib.experiment.transfer`)."""
    return tuple(a.name for a in sorted(ARMS, key=lambda a: not a.is_trunk) if not a.transfers)


def comparison(family: str | None = None) -> tuple[str, ...]:
    """The arms one comparison shows: the winning-ticket trunk, the reference of every
    comparison, then the arms of ``family``; every arm (:func:`all_arms`) when ``family`` is
    'all'; every arm of the IMP study (all but the 'init' family, which notebook 06 reports
    on its own) when it is 'imp'."""
    if family == "all":
        return all_arms()
    if family == "imp":
        return tuple(name for name in all_arms() if ARMS.get(name).family != "init")
    members = families(family) if family else ()
    return (TICKET, *[name for name in members if name != TICKET])


def arm_names(arms: Iterable[str]) -> list[str]:
    """Arm names checked against the registry (an unknown one is a ConfigError listing them)."""
    return [ARMS.get(name).name for name in arms]


def arm_key(cfg: ExperimentConfig) -> dict:
    """What defines a configuration's run: its run key with the fields its arm reads, and the
    arm's version once it has been changed."""
    entry = arm(cfg.arm)
    key = run_key(cfg, entry.reads)
    return {**key, "arm_version": entry.version} if entry.version > 1 else key


def run_hash(cfg: ExperimentConfig) -> str:
    """The store's name for a configuration's run: the fingerprint of :func:`arm_key`."""
    return fingerprint(arm_key(cfg))


def trunk_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """The trunk a configuration's run needs: its branch's trunk, or itself for a trunk."""
    entry = arm(cfg.arm)
    if entry.transfers:
        return cfg.source
    return cfg if entry.is_trunk else replace(cfg, arm=entry.trunk)


def rewind_iteration(cfg: ExperimentConfig, iterations_per_epoch: int | None = None, *,
                     strict: bool = True) -> int | None:
    """The iteration θk is taken at: ``'Nep'`` is N epochs of ``iterations_per_epoch``, ``'Nit'``
    N iterations (None while the epoch's size is unknown, before the data is read).

    ``strict`` (an arm that rewinds there): a point at or past the end of training is a
    ConfigError, by epochs before the data is read and by iterations once it is; otherwise the
    point is clipped to the end of training.
    """
    amount, unit = parse_rewind_point(cfg.rewind_point)
    if strict and unit == "ep" and amount >= cfg.train.epochs:
        raise ConfigError(f"rewind point {cfg.rewind_point!r} is at or past the end of training "
                          f"({cfg.train.epochs} epochs); choose fewer epochs than that")
    if iterations_per_epoch is None:
        return None
    k = amount * iterations_per_epoch if unit == "ep" else amount
    total = cfg.train.epochs * iterations_per_epoch
    if strict and k >= total:
        raise ConfigError(f"rewind point {cfg.rewind_point!r} is iteration {k}, at or past "
                          f"the end of training ({total} iterations); choose an earlier one")
    return min(k, total)
