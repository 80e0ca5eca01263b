"""Every model family of the plan side by side (notebook 09): the study's plan named a CNN, an
RNN, an LSTM and BERT.  The main grid trains the first and the third; a profile's
:class:`~lthlib.experiment.profiles.FamilyStudy` adds

- the recurrent nets without the LSTM's gates (GRU, vanilla RNN), sized and trained as the
  profile's BiLSTM, on its datasets, and
- pretrained encoders (:mod:`lthlib.nets.models.transformer`), whose θ0 is pretraining: their
  tickets as Chen et al. 2020 define them, on their own datasets,

each through :data:`PRIMARY_ARMS`, the arms of the primary comparisons (a cell an arm does not
apply to, such as keeping a pretrained embedding of an encoder that brings its own, is refused
with its reason).  :func:`family_grids` gives them as ordinary grids
(:class:`~lthlib.experiment.grid.Grid`): the same store, executors, status and tables as the
main grid, so a GPU machine or a cluster fills them like any other.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..core.config import ConfigError
from .arms import TICKET
from .grid import Grid
from .profiles import PROFILES, FamilyStudy

#: the arms of the primary comparisons: the ticket against the full re-init, the re-init that
#: keeps a pretrained (GloVe) embedding, and random pruning (:data:`lthlib.report.paired.PRIMARY_FAMILY`)
PRIMARY_ARMS = (TICKET, "random_reinit", "random_reinit_keep_glove", "random_pruning")
#: the two parts of a family study, in the order they train
PARTS = ("scratch", "pretrained")


def study_of(profile: str) -> FamilyStudy:
    study = PROFILES.get(profile).families
    if study is None:
        raise ConfigError(f"profile {profile!r} has no model-family study; profiles with one: "
                          f"{', '.join(p.name for p in PROFILES if p.families is not None)}")
    return study


def family_grids(profile: str, *, models: Iterable[str] | None = None, seeds: Iterable[int] | None = None,
                 executor: str | None = None, **overrides: Any) -> dict[str, Grid]:
    """The study's parts as grids (``scratch``, ``pretrained``; a part whose models ``models``
    leaves out is absent), on the study's seeds unless ``seeds`` are given, every cell with
    ``overrides``."""
    study = study_of(profile)
    wanted = None if models is None else set(models)
    parts = {"scratch": (study.scratch_datasets, study.scratch_models),
             "pretrained": (study.pretrained_datasets, study.pretrained_models)}
    grids = {}
    for part, (datasets, part_models) in parts.items():
        chosen = [m for m in part_models if wanted is None or m in wanted]
        if chosen:
            grids[part] = Grid.of(profile, datasets, chosen, PRIMARY_ARMS,
                                  study.seeds if seeds is None else seeds, executor=executor, **overrides)
    if not grids:
        every = (*study.scratch_models, *study.pretrained_models)
        raise ConfigError(f"models {sorted(wanted or ())} are none of the family study's ({', '.join(every)})")
    return grids
