"""Typed hyper-parameters, run keys, stable fingerprints and derived seeds.

Every experiment is an :class:`ExperimentConfig`: data, model, training and pruning
hyper-parameters plus the arm (how survivors are reset) and the seed.  Its
:func:`fingerprint` names its folder in the results store, so a finished run is found again
whatever process asks for it.

Every field of the four parts (data, model, train, prune) and every top-level field is a
*parameter* that notebooks, ``lth --set``, ``run_all.sh -p`` and profiles may set, under its
field name, unless the field says otherwise with :func:`param` (another public name, or not a
parameter at all); :mod:`lthlib.core.parameters` derives the table and parses the values.

Only what defines a result enters a run's key (:func:`run_key`): fields at their defaults are
left out, so adding a field with a default changes no existing key.  Profiles and the names of
datasets, models and arms live in their registries (:mod:`lthlib.experiment.profiles`,
:mod:`lthlib.data.datasets`, :mod:`lthlib.nets.models`, :mod:`lthlib.experiment.arms`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field, fields
from typing import Any, get_type_hints

EMBEDDINGS = ("random", "glove", "pretrained")
PRUNABLE_SETS = ("all", "weights")
PRUNE_SCOPES = ("local", "global")
LR_SCHEDULES = ("constant", "linear")

#: ``field.metadata`` key: the field's public parameter name, or False for a field that is not a
#: parameter (absent: a parameter under the field's own name).  Set it with :func:`param`.
PARAMETER = "parameter"


def param(default: Any, *, name: str | None = None, parameter: bool = True) -> Any:
    """A dataclass field whose parameter differs from the rule "every field is a parameter under
    its own name": ``name`` is its public name (``prune.fraction`` is ``prune_fraction``);
    ``parameter=False`` keeps it from being one (``data.dataset``, ``arm``, ``seed``: the grid
    names them, not an override)."""
    if name is not None and not parameter:
        raise TypeError("a field that is not a parameter has no parameter name")
    return field(default=default, metadata={PARAMETER: name if parameter else False})


class ConfigError(ValueError):
    """A configuration that cannot run; raised before any training starts."""


class NotApplicable(ConfigError):
    """A cell whose arm does not apply to its model (e.g. keeping a pretrained embedding the
    model does not have): a grid skips it with this reason; it is not bad input."""


def _choice(name: str, value: Any, valid: tuple) -> None:
    if value not in valid:
        raise ConfigError(f"unknown {name} {value!r}; valid: {', '.join(map(str, valid))}")


@dataclass(frozen=True)
class DataConfig:
    dataset: str = param("imdb", parameter=False)   # the grid's, not a parameter
    protocol: str = "study"            # imdb: study (40k/10k pooled) | canonical (25k/25k)
    max_vocab: int = 50_000            # most frequent training words; <pad> and <unk> come on top
    val_fraction: float = 0.3          # seeded share of train held out for validation
    split_seed: int = 0
    max_len: int | None = None         # truncate token ids at batch time (None: full length)
    train_subsample: int | None = None  # keep this many training examples (seeded); quick profile
    eval_subsample: int | None = None   # and at most this many validation and test examples
    synthetic_classes: int = 2         # synthetic only: 2 or 4 classes
    #: "words" (lthlib.data.prepare.tokenize, a vocabulary counted on the training split), or the
    #: name of a pretrained model (lthlib.data.pretrained: "minilm_l6") whose WordPiece tokenizer
    #: and whole vocabulary the text takes (max_vocab then does not apply)
    tokenizer: str = "words"
    # one vocabulary (index space) for several datasets, e.g. ("imdb/study", "sst2/glue"): each
    # 'dataset/protocol', this config's own among them; (): the dataset's own vocabulary
    shared_vocab: tuple[str, ...] = ()

    @property
    def own_vocab_entry(self) -> str:
        """This config's ``dataset/protocol``, as :attr:`shared_vocab` names it."""
        return f"{self.dataset}/{self.protocol}"

    def validate(self) -> None:
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must lie in (0, 1), got {self.val_fraction}")
        if self.max_vocab < 1:
            raise ConfigError(f"max_vocab must be positive, got {self.max_vocab}")
        if self.synthetic_classes not in (2, 4):
            raise ConfigError(f"synthetic_classes must be 2 or 4, got {self.synthetic_classes}")
        self._validate_shared_vocab()

    def _validate_shared_vocab(self) -> None:
        """Its form only; the names are checked against the registry by
        :func:`lthlib.data.prepare.vocab_members`."""
        entries, own = self.shared_vocab, self.own_vocab_entry
        if not entries:
            return
        if self.tokenizer != "words":
            raise ConfigError(f"shared_vocab is for the word tokenizer; {self.tokenizer!r}'s WordPiece vocabulary "
                              f"is one index space for every dataset already: leave shared_vocab empty")
        for entry in entries:
            if not isinstance(entry, str) or entry.count("/") != 1 or "" in entry.split("/"):
                raise ConfigError(f"shared_vocab entries are 'dataset/protocol' (e.g. 'imdb/study'), got {entry!r}")
        if len(set(entries)) != len(entries):
            raise ConfigError(f"shared_vocab names a dataset/protocol twice: {list(entries)}")
        if own not in entries:
            raise ConfigError(f"shared_vocab {list(entries)} does not name this config's own dataset and "
                              f"protocol: write shared_vocab={(own, *entries)!r} (or () for its own vocabulary)")


@dataclass(frozen=True)
class ModelConfig:
    name: str = param("cnn", parameter=False)  # cnn | lstm | gru | rnn | minilm: the grid's, not a parameter
    embed_dim: int = 100
    embedding: str = "random"          # random N(0,1) | glove (GloVe 6B, dim = embed_dim) | pretrained (a
                                       # pretrained model's own, with its whole encoder)
    n_filters: int = 100               # cnn
    filter_sizes: tuple[int, ...] = (3, 4, 5)
    hidden_dim: int = 256              # recurrent
    n_layers: int = 2
    bidirectional: bool = True
    dropout: float = 0.5

    def validate(self) -> None:
        _choice("embedding", self.embedding, EMBEDDINGS)
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-3
    batch_size: int = 64
    epochs: int = 10
    patience: int | None = None        # stop after this many epochs without a better val loss
    #: decoupled weight decay (AdamW) per step, scaled by lr; 0: plain Adam, as the study trained
    weight_decay: float = 0.0
    #: the learning rate over training: "constant" (the study's), or "linear": warm up from 0
    #: over the first ``warmup_fraction`` of the steps, then decay linearly to 0 at the epoch cap
    #: (BERT fine-tuning's, Devlin et al. 2019; Chen et al. 2020 kept it for their tickets)
    lr_schedule: str = "constant"
    warmup_fraction: float = 0.1
    #: the gradients' global norm is clipped to this before each step (None: never); BERT
    #: fine-tuning clips at 1.0, and a vanilla RNN needs it against exploding gradients
    clip_grad_norm: float | None = None
    eval_batch_size: int = 1024
    bf16: bool = True                  # autocast on CUDA only; CPU always trains in fp32
    device: str = "auto"               # auto | cpu | cuda

    def validate(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("epochs and batch_size must be positive")
        if self.lr <= 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"patience must be None or >= 1, got {self.patience}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ConfigError(f"warmup_fraction is a share of the training steps in [0, 1), got {self.warmup_fraction}")
        if self.clip_grad_norm is not None and self.clip_grad_norm <= 0:
            raise ConfigError(f"clip_grad_norm must be None or > 0, got {self.clip_grad_norm}")


@dataclass(frozen=True)
class PruneConfig:
    fraction: float = param(0.2, name="prune_fraction")  # of the remaining weights, per level
    levels: int = 20                   # pruning rounds after the dense level 0
    #: the levels a branch (a control reading a trunk's masks) trains; (): every level.  A trunk
    #: trains every level regardless: each prunes the one before.
    branch_levels: tuple[int, ...] = ()
    scope: str = param("local", name="prune_scope")      # local (per tensor) | global (one threshold)
    prunable: str = "all"              # all (weights and biases, as the study) | weights
    include_embedding: bool = True
    include_output: bool = True

    def validate(self) -> None:
        if not 0.0 < self.fraction < 1.0:
            raise ConfigError(f"prune fraction must lie in (0, 1), got {self.fraction}")
        if self.levels < 0:
            raise ConfigError(f"levels must be >= 0, got {self.levels}")
        if any(not isinstance(level, int) or level < 1 for level in self.branch_levels):
            raise ConfigError(f"branch_levels are pruned levels (integers >= 1), got {list(self.branch_levels)}")
        _choice("prune scope", self.scope, PRUNE_SCOPES)
        _choice("prunable set", self.prunable, PRUNABLE_SETS)


def parse_rewind_point(point: str) -> tuple[int, str]:
    """'1ep' -> (1, 'ep'); '500it' -> (500, 'it')."""
    match = re.fullmatch(r"(\d+)(ep|it)", str(point).strip())
    if not match:
        raise ConfigError(f"rewind point {point!r} must look like '1ep' or '500it'")
    return int(match.group(1)), match.group(2)


@dataclass(frozen=True)
class ExperimentConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    arm: str = param("winning_ticket", parameter=False)  # the grid's, not parameters
    seed: int = param(0, parameter=False)
    rewind_point: str = "1ep"          # late_rewinding: θk after k epochs ('1ep') or iterations ('500it')
    finetune_epochs: int = 2           # fine_tuning: epochs of retraining at the final learning rate
    init_scope: str = "global"         # snip, grasp, synflow: one threshold (their papers') | local
    score_batches: int = 4             # snip, grasp: training batches the score averages over
    synflow_rounds: int = 100          # synflow: pruning rounds (exponential schedule)
    early_bird_epsilon: float = 0.1    # early_bird: masks count as settled below this distance
    early_bird_window: int = 5         # early_bird: ... for this many consecutive epochs
    #: a transfer arm: the source's winning-ticket trunk whose masks it takes (another dataset of
    #: the same vocabulary); the grid's, not a parameter, and part of the run key when set
    source: ExperimentConfig | None = param(None, parameter=False)

    def validate(self) -> "ExperimentConfig":
        """Ranges and formats; names (dataset, model, arm) are checked against the registries
        by :func:`lthlib.experiment.profiles.validate`."""
        for part in (self.data, self.model, self.train, self.prune):
            part.validate()
        parse_rewind_point(self.rewind_point)
        _choice("init_scope", self.init_scope, PRUNE_SCOPES)
        for name in ("finetune_epochs", "score_batches", "synflow_rounds", "early_bird_window"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.early_bird_epsilon < 1.0:
            raise ConfigError(f"early_bird_epsilon must lie in (0, 1), got {self.early_bird_epsilon}")
        if self.source is not None:
            self.source.validate()
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentConfig":
        parts = {name: _from_json(part, d[name]) for name, part in
                 (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig), ("prune", PruneConfig))}
        source = d.get("source")
        top = {k: v for k, v in d.items() if k not in (*parts, "source")}
        return cls(**parts, **top, source=cls.from_dict(source) if source else None)


def _from_json(part: type, values: dict) -> Any:
    """A part from its JSON form: lists back to tuples where the field's default is one."""
    tuples = {f.name for f in fields(part) if isinstance(f.default, tuple)}
    return part(**{k: tuple(v) if k in tuples and isinstance(v, list) else v for k, v in values.items()})


def fingerprint(obj: Any, length: int = 12) -> str:
    """A stable short hash of a dataclass or JSON-able object."""
    if dataclasses.is_dataclass(obj):
        obj = dataclasses.asdict(obj)
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


#: DataConfig fields added after runs.csv's ``data_hash`` was first written: left out of it at
#: their defaults, so an existing configuration keeps its data_hash
LATER_DATA_FIELDS = ("shared_vocab", "tokenizer")


def data_hash(data: DataConfig) -> str:
    """The fingerprint of a data configuration that runs.csv records (``data_hash``): every field,
    but those of :data:`LATER_DATA_FIELDS` only when set."""
    defaults = DataConfig()
    return fingerprint({k: v for k, v in dataclasses.asdict(data).items()
                        if k not in LATER_DATA_FIELDS or v != getattr(defaults, k)})


def derive_seed(seed: int, purpose: str, *extra: Any) -> int:
    """Independent seeds per purpose ('init', 'data_order', 'dropout', 'mask', 'reinit', ...)."""
    text = json.dumps([seed, purpose, *extra], default=str)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") % (2**63)


# ---------------------------------------------------------------------------------------------
# Run keys: what defines a result
# ---------------------------------------------------------------------------------------------

#: Fields that change how a run is executed, or how far it goes, but not the numbers of any
#: level it trains: never part of a run key (a run extended to more levels keeps its folder).
NOT_DEFINING = {"train": ("device", "eval_batch_size"), "prune": ("levels", "branch_levels")}
#: The parts of an :class:`ExperimentConfig` (its dataclass-typed fields): data, model, train, prune.
SECTIONS = tuple(name for name, tp in get_type_hints(ExperimentConfig).items() if dataclasses.is_dataclass(tp))
#: Top-level fields that only some arms read (every top-level parameter: all but the parts, the
#: arm and the seed); an arm's ``reads`` names the ones that enter its key.
ARM_FIELDS = tuple(f.name for f in fields(ExperimentConfig)
                   if f.name not in SECTIONS and f.metadata.get(PARAMETER, True) is not False)


def non_default_fields(part: Any, skip: tuple[str, ...] = ()) -> dict:
    """The fields of a dataclass that differ from their defaults (OpenLTH's rule: a field added
    later with a default leaves every existing key as it was)."""
    out = {}
    for f in fields(part):
        if f.name in skip:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        value = getattr(part, f.name)
        if value != default:
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def run_key(cfg: "ExperimentConfig", reads: tuple[str, ...] = ()) -> dict:
    """What defines one run's results: the non-default data, model, training and pruning fields
    (not ``device``, ``eval_batch_size`` or the number of ``levels``), the arm, the arm-specific
    fields it ``reads``, and
    the seed.  Its :func:`fingerprint` names the run's folder in the store."""
    key: dict[str, Any] = {section: non_default_fields(getattr(cfg, section), NOT_DEFINING.get(section, ()))
                           for section in ("data", "model", "train", "prune")}
    key["data"]["dataset"] = cfg.data.dataset   # always named, so a stored key reads on its own
    key["model"]["name"] = cfg.model.name
    key.update(arm=cfg.arm, seed=cfg.seed)
    defaults = ExperimentConfig()
    key.update({name: getattr(cfg, name) for name in reads
                if name in ARM_FIELDS and getattr(cfg, name) != getattr(defaults, name)})
    if cfg.source is not None:  # a transfer arm: the source trunk it takes its masks from
        key["source"] = run_key(cfg.source)
    return key


def dense_key(cfg: "ExperimentConfig") -> dict:
    """The dense network every arm of one (data, model, training, seed) shares."""
    key = run_key(cfg)
    del key["prune"], key["arm"]
    key.pop("source", None)
    return {"kind": "dense", **key}
