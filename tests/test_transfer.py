"""Tickets across datasets (issue #18), on the smoke profile's synthetic pairs: one index space,
the head rule, the transferred start, bad input, resuming, and the tables."""
import dataclasses

import pandas as pd
import pytest
import torch

from lthlib.core.config import ConfigError
from lthlib.data.prepare import forget_prepared
from lthlib.experiment import runner as lottery
from lthlib.experiment import train
from lthlib.experiment.arms import ARMS, TICKET, check_source
from lthlib.experiment.runner import Runner, load_data
from lthlib.experiment.store import Store
from lthlib.experiment.transfer import TARGET_ARMS, TransferCell, TransferGrid
from lthlib.machine.files import load_torch
from lthlib.report import transfer_verdicts as transfer_report
from lthlib.report.inference import SEEDS_AND_TEST

FAST = dict(epochs=1, levels=2)


@pytest.fixture(autouse=True)
def _tmp_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LTH_DATA_DIR", str(tmp_path / "data"))
    forget_prepared()


def grid(**kw) -> TransferGrid:
    return TransferGrid.of("smoke", **{"models": ["cnn"], "seeds": [0], **FAST, **kw})


def start_of(cfg, store: Store, level: int = 1):
    """The level a transfer arm would train (its trunk trained as far as needed), untrained."""
    runner = Runner(cfg, store, progress=False)
    return runner, runner.level(level)


def test_every_network_of_a_pair_reads_one_vocabulary():
    g = grid()
    vocabs = {d: load_data(g.trunk(d, "cnn", 0), progress=False).vocab.itos for d in g.study.datasets}
    first = next(iter(vocabs.values()))
    assert all(v == first for v in vocabs.values()) and len(first) > 2
    alone = load_data(dataclasses.replace(g.trunk("synthetic_short", "cnn", 0),
                                          data=dataclasses.replace(g.trunk("synthetic_short", "cnn", 0).data,
                                                                   shared_vocab=())), progress=False)
    assert alone.vocab.itos != first   # its own vocabulary would not line up


def test_the_transferred_ticket_starts_from_the_sources_theta0_under_its_mask(tmp_path):
    g, store = grid(), Store(tmp_path / "results")
    cfg = g.config(TransferCell("synthetic", "synthetic_short", "cnn", "transferred_ticket", 0))
    runner, level = start_of(cfg, store)
    source = Runner(cfg.source, store, progress=False)
    theta0, mask = source.theta0(), load_torch(source.run.file(1, "mask.pt"))
    embedding = runner.shapes.embedding_param
    seen = load_data(cfg.source, progress=False).train.tokens.long().unique()
    for name, value in level.start.items():
        assert torch.equal(value, theta0[name] * level.masks[name].to(value.dtype)) if name in level.masks \
            else torch.equal(value, theta0[name]), name
    for name, m in level.masks.items():
        expected = mask[name][seen] if name == embedding else mask[name]
        got = m[seen] if name == embedding else m
        assert torch.equal(got, expected), name


def test_rows_of_words_the_source_never_saw_are_masked_at_the_embeddings_share(tmp_path):
    g, store = grid(), Store(tmp_path / "results")
    cfg = g.config(TransferCell("synthetic_topics", "synthetic_short", "cnn", "transferred_ticket", 0))
    runner, level = start_of(cfg, store)
    emb = level.masks[runner.shapes.embedding_param]
    seen = torch.zeros(emb.shape[0], dtype=torch.bool)
    seen[load_data(cfg.source, progress=False).train.tokens.long().unique()] = True
    unseen = emb[~seen]
    assert (~seen).sum() > 10   # a topic corpus lacks most sentiment words
    assert float(unseen.float().mean()) == pytest.approx(float(emb.float().mean()), abs=0.02)


def test_a_head_of_another_class_count_is_the_targets_own_theta0_and_dense(tmp_path):
    g, store = grid(), Store(tmp_path / "results")
    cfg = g.config(TransferCell("synthetic_topics", "synthetic_short", "cnn", "transferred_ticket", 0))
    runner, level = start_of(cfg, store)
    own = runner.theta0()
    head = [n for n in level.masks if n.startswith(runner.shapes.output_prefix)]
    assert head and all(bool(level.masks[n].all()) for n in head)
    assert all(torch.equal(level.start[n], own[n]) for n in head)
    source_head = Runner(cfg.source, store, progress=False).theta0()[head[0]]
    assert source_head.shape != own[head[0]].shape   # 4 classes there, 2 here


def test_the_reinit_and_random_arms_keep_what_they_claim(tmp_path):
    g, store = grid(), Store(tmp_path / "results")
    cell = TransferCell("synthetic", "synthetic_short", "cnn", "transferred_ticket", 0)
    _, ticket = start_of(g.config(cell), store)
    _, reinit = start_of(g.config(cell._replace(arm="transferred_reinit")), store)
    _, rand = start_of(g.config(cell._replace(arm="transferred_random")), store)
    assert all(torch.equal(reinit.masks[n], ticket.masks[n]) for n in ticket.masks)
    assert not torch.equal(reinit.start["convs.0.weight"], ticket.start["convs.0.weight"])
    for name, m in ticket.masks.items():
        assert int(rand.masks[name].sum()) == int(m.sum()), name
    assert any(not torch.equal(rand.masks[n], ticket.masks[n]) for n in ticket.masks)


@pytest.mark.parametrize("change, message", [
    (lambda cfg: dataclasses.replace(cfg, source=None), "needs cfg.source"),
    (lambda cfg: dataclasses.replace(cfg, source=dataclasses.replace(
        cfg.source, data=dataclasses.replace(cfg.source.data, shared_vocab=())),), "no shared vocabulary"),
    (lambda cfg: dataclasses.replace(cfg, prune=dataclasses.replace(cfg.prune, levels=5)), "reach its 5 levels"),
    (lambda cfg: dataclasses.replace(cfg, arm=TICKET), "takes no source"),
])
def test_bad_transfers_are_refused_before_training(change, message):
    from lthlib.experiment.profiles import validate
    cfg = grid().config(TransferCell("synthetic", "synthetic_short", "cnn", "transferred_ticket", 0))
    with pytest.raises(ConfigError, match=message):
        validate(change(cfg))


def test_pairs_outside_the_study_are_refused_with_the_valid_ones(monkeypatch):
    from lthlib.experiment import profiles, transfer
    with pytest.raises(ConfigError, match="valid pairs: synthetic>synthetic_short"):
        TransferGrid.of("smoke", pairs="synthetic_short>synthetic_topics")
    bare = dataclasses.replace(profiles.PROFILES.get("smoke"), transfer=None)
    monkeypatch.setattr(transfer, "PROFILES", type("P", (), {"get": staticmethod(lambda name: bare),
                                                               "__iter__": lambda self: iter(())})())
    with pytest.raises(ConfigError, match="has no transfer experiment"):
        TransferGrid.of("smoke")


def test_the_grid_trains_every_cell_then_resumes_with_nothing_to_do(tmp_path, monkeypatch):
    g, store = grid(pairs="synthetic>synthetic_short"), Store(tmp_path / "results")
    status = g.run(store, workers=1)
    assert set(status["status"]) == {"done"} and len(status) == len(TARGET_ARMS)
    runs = store.runs()
    expected = g.expected()
    assert set(expected["config_hash"]) <= set(runs["config_hash"])
    assert set(runs.loc[runs["arm"] == "transferred_ticket", "source"]) == {"synthetic"}
    assert (runs.loc[runs["arm"] == "transferred_ticket", "mask_search_epochs"] == 0).all()

    def no_training(*args, **kwargs):
        raise AssertionError("a resumed transfer grid trained something")
    monkeypatch.setattr(lottery, "train_model", no_training)
    monkeypatch.setattr(train, "train_model", no_training)
    again = g.run(store, workers=1)
    assert set(again["status"]) == {"done"}
    assert store.table("transfer_status")["status"].eq("done").all()


def test_the_tables_compare_every_arm_at_every_level_and_mark_the_primary_family(tmp_path):
    g, store = grid(pairs="synthetic>synthetic_short", seeds=[0, 1]), Store(tmp_path / "results")
    g.run(store, workers=1)
    expected = g.expected()
    runs = transfer_report.by_pair(store.runs(), expected)
    assert set(runs["dataset"]) == {"Synthetic → Synthetic (short texts)"}
    table, chosen = transfer_report.transfer_differences(runs, transfer_report.by_pair(
        store.table("predictions"), expected), store.table("test_labels"))
    for comparison, arm, _, _ in transfer_report.TRANSFER_COMPARISONS:
        rows = table[(table["comparison"] == comparison) & (table["arm"] == arm)]
        assert sorted(rows["level"]) == [1, 2], comparison
    assert (table["interval_source"] == SEEDS_AND_TEST).all()
    primary = table[table["family"] == "primary"]
    assert len(primary) == len(transfer_report.TRANSFER_FAMILY) and primary["p_holm"].notna().all()
    verdicts = transfer_report.verdict_table(table, chosen, runs)
    assert len(verdicts) == 1 and verdicts["search_epochs_avoided"].iloc[0] > 0
    assert "Synthetic → Synthetic (short texts), CNN" in transfer_report.describe_answer(verdicts)
    assert isinstance(verdicts, pd.DataFrame)


def test_the_cap_binding_counts_each_network_once_under_its_target_s_cap():
    g = grid(pairs="synthetic>synthetic_short,synthetic_topics>synthetic_short", epochs=4, patience=2)
    rows = []
    for source in ("synthetic", "synthetic_topics"):
        pair = dict(dataset=transfer_report.pair_name(source, "synthetic_short"), target="synthetic_short",
                    model="cnn", seed=0)
        # the target's own ticket (one network, listed under both pairs) ran into the cap still improving
        rows += [dict(pair, arm=TICKET, config_hash="own", level=level, epochs_run=4, best_epoch=4)
                 for level in (0, 1, 2)]
        rows += [dict(pair, arm="transferred_ticket", config_hash=source, level=level, epochs_run=3, best_epoch=1,
                      shared_from=f"{source}-dense" if level == 0 else "") for level in (0, 1)]
    caps = transfer_report.cap_binding(pd.DataFrame(rows), g.trunks()).set_index("arm")
    assert caps.loc[TICKET, ["n_runs", "n_cap_bound"]].tolist() == [2, 2]
    assert caps.loc["dense", "n_runs"] == 1
    assert caps.loc["transferred_ticket", ["n_runs", "n_cap_bound"]].tolist() == [2, 0]


def test_a_mask_moves_only_between_networks_of_one_shape_but_the_head():
    from lthlib.nets.masks import transferred_masks
    source = {"embedding.weight": torch.ones(5, 3, dtype=torch.bool), "fc.weight": torch.zeros(4, 3, dtype=torch.bool)}
    target = {"embedding.weight": torch.ones(5, 3, dtype=torch.bool), "fc.weight": torch.ones(1, 3, dtype=torch.bool)}
    moved = transferred_masks(source, target, "embedding.weight", torch.tensor([], dtype=torch.long), seed=0)
    assert bool(moved["fc.weight"].all())   # the head of another class count: the target's, dense
    with pytest.raises(ValueError, match="embedding.weight"):
        transferred_masks({**source, "embedding.weight": torch.ones(6, 3, dtype=torch.bool)}, target,
                          "embedding.weight", torch.tensor([], dtype=torch.long), seed=0)


def test_lth_transfer_runs_a_pair_from_a_shell(tmp_path, monkeypatch, capsys):
    from lthlib import cli
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path / "results"))
    assert cli.main(["transfer", "--profile", "smoke", "--pairs", "synthetic>synthetic_short", "--models", "cnn",
                     "--seeds", "0", "--set", "epochs=1", "levels=1", "--workers", "1"]) == 0
    assert "synthetic → synthetic_short" in capsys.readouterr().out
    runs = Store.of_profile("smoke").runs()
    assert set(runs["arm"]) >= set(TARGET_ARMS)
    assert cli.main(["transfer", "--profile", "smoke", "--pairs", "synthetic>synthetic"]) == 2


def test_a_pretrained_encoder_s_ticket_moves_in_its_own_tokenizer_s_index_space(tmp_path):
    """Chen et al. 2020's transfer: MiniLM's rows are its WordPiece vocabulary on every dataset,
    so its pairs need no shared word vocabulary; the transferred ticket starts from the source's
    θ0 (the pretrained weights and the source's head) under the source's mask."""
    g = TransferGrid.of("smoke", models=["minilm"], seeds=[0], pairs="synthetic>synthetic_short",
                        epochs=1, levels=1, train_subsample=48, eval_subsample=24)
    cfg = g.config(TransferCell("synthetic", "synthetic_short", "minilm", "transferred_ticket", 0))
    assert cfg.data.shared_vocab == () and cfg.data.tokenizer == cfg.source.data.tokenizer != "words"
    store = Store(tmp_path / "results")
    runner, level = start_of(cfg, store)
    source = Runner(cfg.source, store, progress=False)
    theta0, mask = source.theta0(), load_torch(source.run.file(1, "mask.pt"))
    assert mask and set(level.masks) == set(mask)
    for name, value in level.start.items():
        expected = theta0[name] * level.masks[name].to(value.dtype) if name in level.masks else theta0[name]
        assert torch.equal(value, expected), name
        if name in mask:
            assert torch.equal(level.masks[name], mask[name]), name
    words = g.trunk("synthetic", "cnn", 0)           # a word-vocabulary source: its rows are other tokens
    with pytest.raises(ConfigError, match="rows line up"):
        check_source(ARMS.get("transferred_ticket"), dataclasses.replace(cfg, source=words))
