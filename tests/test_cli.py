"""The ``lth`` command: arguments into a Grid, notebooks into reports, bad input refused.

Nothing trains here: Grid.run and (except in one test) papermill are replaced by recorders.
"""
from __future__ import annotations

import re

import nbformat
import pandas as pd
import pytest

from lthlib import cli
from lthlib.core.config import ConfigError
from lthlib.experiment import grid as grids
from lthlib.experiment import profiles
from lthlib.experiment.arms import all_arms
from lthlib.machine.executors import JobFailed
from lthlib.machine.executors.local import LocalExecutor
from lthlib.report import render


@pytest.fixture
def grid_calls(monkeypatch) -> list[dict]:
    """Grid.run replaced by a recorder (the grid's cells and the run's arguments) whose cells are
    all done."""
    calls = []

    def run(grid, arms=None, **kwargs):
        calls.append({"profile": grid.profile, "datasets": grid.datasets, "models": grid.models,
                      "arms": list(grid.arms), "seeds": None if grid.profile_seeds else grid.seeds,
                      **grid.overrides, **kwargs})
        return pd.DataFrame([{"dataset": "imdb", "model": "cnn", "arm": "winning_ticket", "seed": 0,
                              "status": "done", "reason": "", "levels_done": 5}])
    monkeypatch.setattr(grids.Grid, "run", run)
    return calls


# -- lth run -----------------------------------------------------------------------------------

def test_run_passes_the_grid_to_grid_run(grid_calls, capsys):
    code = cli.main(["run", "--profile", "quick", "--datasets", "imdb", "--models", "cnn,lstm",
                     "--arms", "winning_ticket,random_reinit", "--seeds", "0,1", "--max-level", "2",
                     "--workers", "3", "--set", "epochs=3", "rewind_point=500it", "--set", "prune_fraction=0.5"])
    assert code == 0
    assert grid_calls == [{"profile": "quick", "datasets": ["imdb"], "models": ["cnn", "lstm"],
                           "arms": ["winning_ticket", "random_reinit"], "seeds": [0, 1], "max_level": 2,
                           "workers": 3, "progress": True, "epochs": 3, "rewind_point": "500it",
                           "prune_fraction": 0.5, "executor": LocalExecutor(3)}]
    assert "winning_ticket" in capsys.readouterr().out  # the status table


def test_run_defaults_leave_the_grid_to_the_profile(grid_calls):
    assert cli.main(["run", "--profile", "smoke"]) == 0
    smoke = profiles.PROFILES.get("smoke")
    assert grid_calls == [{"profile": "smoke", "datasets": list(smoke.datasets), "models": list(smoke.models),
                           "arms": ["winning_ticket"], "seeds": None, "max_level": None, "workers": None,
                           "progress": True, "executor": LocalExecutor()}]


def test_run_takes_json_lists(grid_calls):
    assert cli.main(["run", "--profile", "quick", "--datasets", '["imdb"]', "--seeds", "[2]"]) == 0
    assert grid_calls[0]["datasets"] == ["imdb"] and grid_calls[0]["seeds"] == [2]


def test_all_arms_means_every_registered_arm(grid_calls, monkeypatch):
    checked, real = [], grids.experiment
    monkeypatch.setattr(grids, "experiment", lambda *args, **kwargs: checked.append(args[3]) or real(*args, **kwargs))
    assert cli.main(["run", "--profile", "smoke", "--arms", "all"]) == 0
    assert grid_calls[0]["arms"] == list(all_arms())
    assert set(checked) == set(all_arms())  # every cell checked before Grid.run


def test_set_values_are_typed_by_their_parameter():
    settings = cli.parse_settings(["epochs=3", "prune_fraction=1", "rewind_point=500it",
                                   "include_output=false", "patience=null", "prunable= weights ",
                                   "filter_sizes=[2, 3]", "protocol=a=b"])
    assert settings == {"epochs": 3, "prune_fraction": 1.0, "rewind_point": "500it",
                        "include_output": False, "patience": None, "prunable": "weights",
                        "filter_sizes": (2, 3), "protocol": "a=b"}
    assert isinstance(settings["prune_fraction"], float)


@pytest.mark.parametrize("pair, words", [("epochs=three", "parameter epochs='three': expected int"),
                                         ("epochs=2.5", "parameter epochs='2.5': expected int"),
                                         ("include_output=1", "expected bool"),
                                         ("datasets=[\"imdb\"]", "unknown parameter 'datasets'; valid: ")])
def test_set_values_of_the_wrong_type_are_refused_by_name(pair, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        cli.parse_settings([pair])


@pytest.mark.parametrize("argv, words", [
    (["run", "--profile", "huge"], "unknown profile 'huge'"),
    (["run", "--profile", "smoke", "--arms", "winning_ticket,lucky"], "unknown arm 'lucky'"),
    (["run", "--profile", "quick", "--datasets", "mnist"], "unknown dataset 'mnist'"),
    (["run", "--profile", "quick", "--models", "transformer"], "unknown model 'transformer'"),
    (["run", "--profile", "smoke", "--set", "epochs"], "--set needs key=value, got 'epochs'"),
    (["run", "--profile", "smoke", "--set", "=3"], "--set needs key=value"),
    (["run", "--profile", "smoke", "--set", "bogus=1"], "unknown parameter 'bogus'"),
    (["run", "--profile", "smoke", "--set", "epochs=0"], "epochs and batch_size must be positive"),
    (["run", "--profile", "smoke", "--set", "epochs=x"], "parameter epochs='x': expected int"),
    (["run", "--profile", "smoke", "--set", "workers=2"], "unknown parameter 'workers'"),
    (["run", "--profile", "smoke", "--seeds", "one"], "--seeds takes whole numbers"),
    (["run", "--profile", "smoke", "--max-level", "x"], "argument --max-level: invalid int value"),
    (["run", "--profile", "smoke", "--fast"], "unrecognized arguments: --fast"),
    ([], "the following arguments are required: COMMAND"),
])
def test_bad_input_is_one_line_and_exit_code_2_before_any_training(grid_calls, capsys, argv, words):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lth: ") and words in err
    assert err.count("\n") == 1
    assert grid_calls == []


def test_cells_that_did_not_run_give_exit_code_1(monkeypatch, capsys):
    table = pd.DataFrame([{"dataset": "imdb", "status": "done", "reason": ""},
                          {"dataset": "ag_news", "status": "skipped", "reason": "data unavailable"}])
    monkeypatch.setattr(grids.Grid, "run", lambda grid, **kwargs: table)
    assert cli.main(["run", "--profile", "quick"]) == 1
    assert "1 of 2 cells did not run" in capsys.readouterr().err


def test_a_failed_worker_is_exit_code_1_with_its_message(monkeypatch, capsys):
    def run(grid, **kwargs):
        raise JobFailed("imdb/cnn seed 0 failed (exit code 1); the end of its stderr:\n    OSError: disk full")
    monkeypatch.setattr(grids.Grid, "run", run)
    assert cli.main(["run", "--profile", "quick"]) == 1
    assert "lth: imdb/cnn seed 0 failed" in capsys.readouterr().err


def test_help_exits_cleanly(capsys):
    assert cli.main(["run", "--help"]) == 0
    assert "--arms" in capsys.readouterr().out


def test_run_and_transfer_take_the_same_executor_options(capsys):
    options = []
    for command in ("run", "transfer"):
        assert cli.main([command, "--help"]) == 0
        options.append(set(re.findall(r"--(?:executor|workers|address|max-in-flight|slurm-[a-z-]+)",
                                      capsys.readouterr().out)))
    assert options[0] == options[1] and {"--executor", "--address", "--slurm-partition"} <= options[0]


def test_an_executor_option_of_another_executor_is_refused_before_training(grid_calls, capsys):
    assert cli.main(["run", "--profile", "smoke", "--address", "auto"]) == 2
    assert "--address belongs to --executor ray, not local" in capsys.readouterr().err
    assert cli.main(["transfer", "--profile", "smoke", "--executor", "slurm", "--max-in-flight", "2"]) == 2
    assert "--max-in-flight belongs to --executor ray, not slurm" in capsys.readouterr().err
    assert grid_calls == []


# -- lth profiles, lth parameters -------------------------------------------------------------

def test_parameters_lists_every_parameter_with_its_type_and_default(capsys):
    from lthlib.core.parameters import PARAMETERS
    assert cli.main(["parameters"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(PARAMETERS)
    epochs = next(line for line in lines if line.startswith("epochs "))
    assert " int " in epochs and "(train.epochs)" in epochs


def test_profiles_lists_each_grid(capsys):
    assert cli.main(["profiles"]) == 0
    out = capsys.readouterr().out
    for entry in profiles.PROFILES:
        assert f"{entry.name}: {entry.description}" in out
    assert "datasets synthetic; models cnn, lstm; seeds 0, 1" in out


# -- lth report --------------------------------------------------------------------------------

@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A repository root with three notebooks (empty: papermill is replaced unless a test says)."""
    (tmp_path / "notebooks").mkdir()
    for name in ("00_data_prep", "03_winning_tickets", "05_analysis", "make_notebooks"):
        (tmp_path / "notebooks" / f"{name}.ipynb").write_text("{}")
    monkeypatch.setattr(render, "ROOT", tmp_path)
    return tmp_path


@pytest.fixture
def executed(monkeypatch) -> list[tuple]:
    calls = []
    monkeypatch.setattr(render, "execute", lambda notebook, output, parameters: calls.append(
        (str(notebook), str(output), parameters)))
    monkeypatch.setattr(render, "export_html", lambda output: calls.append(("html", str(output))))
    return calls


def test_report_runs_the_chosen_notebooks_with_parameters(repo, executed):
    code = cli.main(["report", "--profile", "smoke", "--only", "03,5", "-p", "seeds", "[0]",
                     "-p", "levels", "3", "-p", "bf16", "False"])
    assert code == 0
    parameters = {"profile": "smoke", "seeds": "[0]", "levels": 3, "bf16": False}
    assert executed == [
        ("notebooks/03_winning_tickets.ipynb", "reports/smoke/03_winning_tickets.ipynb", parameters),
        ("html", "reports/smoke/03_winning_tickets.ipynb"),
        ("notebooks/05_analysis.ipynb", "reports/smoke/05_analysis.ipynb", parameters),
        ("html", "reports/smoke/05_analysis.ipynb"),
    ]
    assert (repo / "reports" / "smoke").is_dir()


def test_report_parameters_are_typed_by_their_parameter_and_others_as_papermill_reads_them(repo, executed):
    assert cli.main(["report", "--profile", "smoke", "--only", "03", "-p", "datasets", "imdb",
                     "-p", "prune_fraction", "1", "-p", "include_output", "false", "-p", "epochs", "None",
                     "-p", "rewind_point", "500it", "-p", "filter_sizes", "[2, 3]"]) == 0
    assert executed[0][2] == {"profile": "smoke", "datasets": "imdb", "prune_fraction": 1.0,
                              "include_output": False, "epochs": None, "rewind_point": "500it",
                              "filter_sizes": (2, 3)}


def test_report_without_only_runs_every_numbered_notebook(repo, executed):
    assert cli.main(["report", "--profile", "smoke"]) == 0
    assert [call[0] for call in executed if call[0] != "html"] == [
        "notebooks/00_data_prep.ipynb", "notebooks/03_winning_tickets.ipynb", "notebooks/05_analysis.ipynb"]


@pytest.mark.parametrize("argv, words", [
    (["--only", "07"], "--only 07 matches no notebook; have: 00_data_prep, 03_winning_tickets, 05_analysis"),
    (["-p", "profile", "paper"], "choose the profile with --profile"),
    (["-p", "seeds"], "argument -p: expected 2 arguments"),
    (["-p", "levels", "many"], "parameter levels='many': expected int"),
])
def test_report_bad_input_is_exit_code_2(repo, executed, capsys, argv, words):
    assert cli.main(["report", "--profile", "smoke", *argv]) == 2
    assert words in capsys.readouterr().err
    assert executed == []


def test_a_failing_notebook_names_its_cell_and_error(repo, capsys):
    """The real papermill and nbconvert, on two tiny notebooks: the first passes, the second fails."""
    for name, source in (("00_ok", "x = 1\nprint(profile, x)"), ("01_bad", "# load the data\n1 / 0")):
        notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {
            "name": "python3", "display_name": "Python 3", "language": "python"}})
        parameters = nbformat.v4.new_code_cell('profile = "smoke"', metadata={"tags": ["parameters"]})
        notebook.cells = [parameters, nbformat.v4.new_code_cell(source)]
        nbformat.write(notebook, repo / "notebooks" / f"{name}.ipynb")
    assert cli.main(["report", "--profile", "smoke", "--only", "00_ok,01_bad"]) == 1
    err = capsys.readouterr().err
    assert "lth: notebook 01_bad.ipynb failed at cell" in err and ": # load the data" in err
    assert "lth: ZeroDivisionError: division by zero" in err
    assert "reports/smoke/01_bad.ipynb" in err
    assert (repo / "reports" / "smoke" / "00_ok.html").exists()
    assert "smoke 1" in (repo / "reports" / "smoke" / "00_ok.ipynb").read_text()
