"""The protocol parameter: one name for every dataset, or dataset=protocol pairs."""
import pytest

from lthlib import profiles
from lthlib.config import ConfigError


def test_protocol_pairs_apply_to_the_datasets_they_name():
    assert profiles.experiment("quick", "ag_news", "cnn", protocol="ag_news=official").data.protocol == "official"
    assert profiles.experiment("quick", "imdb", "cnn", protocol="ag_news=official").data.protocol == "study"
    both = "imdb=canonical, ag_news=official"
    assert profiles.experiment("quick", "imdb", "cnn", protocol=both).data.protocol == "canonical"


def test_quick_names_ag_news_offline_protocol_in_its_settings():
    assert profiles.experiment("quick", "ag_news", "lstm").data.protocol == "test_resplit"
    assert profiles.experiment("paper", "ag_news", "lstm").data.protocol == "official"


@pytest.mark.parametrize("value, message", [("ag_news=", "dataset=protocol"), ("mnist=x", "unknown dataset"),
                                            ("ag_news=nope", "unknown protocol 'nope' for ag_news")])
def test_bad_protocol_values_are_refused_before_training(value, message):
    with pytest.raises(ConfigError, match=message):
        profiles.experiment("quick", "ag_news", "cnn", protocol=value)


def test_arms_on_fewer_seeds_follow_the_profile_unless_seeds_are_given():
    from lthlib import report
    from lthlib.selection import expected_cells
    quick = profiles.PROFILES.get("quick")
    fewer = next(iter(quick.arm_seeds))
    cells = expected_cells(report.selection("quick", datasets="imdb", arms=f"winning_ticket,{fewer}"))
    per_arm = cells.groupby("arm")["seed"].apply(lambda s: sorted(set(s))).to_dict()
    assert per_arm == {"winning_ticket": list(quick.seeds), fewer: list(quick.arm_seeds[fewer])}
    explicit = expected_cells(report.selection("quick", arms=f"winning_ticket,{fewer}", seeds="[1, 2]"))
    assert set(explicit.loc[explicit["arm"] == fewer, "seed"]) == {1, 2}


def test_run_grid_gives_each_arm_its_seeds_on_each_dataset(monkeypatch, tmp_path):
    from lthlib import lottery, report
    from lthlib.selection import expected_cells
    from lthlib.store import Store
    quick = profiles.PROFILES.get("quick")
    dataset, more = next(iter(quick.dataset_seeds.items()))
    other = next(d for d in quick.datasets if d != dataset)
    fewer = next(iter(quick.arm_seeds))
    assert set(more) > set(quick.seeds)
    cells = expected_cells(report.selection("quick", datasets=f"{dataset},{other}", models="cnn",
                                           arms=f"winning_ticket,{fewer}"))
    seeds = cells.groupby(["dataset", "arm"])["seed"].apply(sorted).to_dict()
    assert seeds == {(dataset, "winning_ticket"): list(more), (other, "winning_ticket"): list(quick.seeds),
                     (dataset, fewer): list(quick.arm_seeds[fewer]), (other, fewer): list(quick.arm_seeds[fewer])}
    seen = []
    monkeypatch.setattr(lottery, "load_data", lambda cfg, progress: None)
    monkeypatch.setattr(lottery, "run_group", lambda group, root, max_level, progress:
                        seen.extend((c.data.dataset, c.arm, c.seed) for c in group) or [])
    lottery.run_grid("quick", datasets=[dataset, other], models=["cnn"], arms=["winning_ticket", fewer],
                     store=Store(tmp_path), workers=1)
    assert sorted(seen) == sorted((d, a, s) for (d, a), ss in seeds.items() for s in ss)
