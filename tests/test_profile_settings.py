"""The protocol parameter: one name for every dataset, or dataset=protocol pairs."""
import pytest

from lthlib.core.config import ConfigError
from lthlib.experiment import profiles


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
