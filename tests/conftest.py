"""Shared fixtures (helpers that are not fixtures live in helpers.py):

- every test module runs torch on one thread (``one_torch_thread``, autouse);
- tiny source files made in code (an aclImdb-shaped tar.gz, AG News-shaped CSVs) in a temporary
  offline mirror with its SHA256SUMS, and a temporary data folder;
- temporary results and figures folders (``out_dirs``);
- the executors' small smoke grid: its prepared data and its local executor's store, made once
  per module (``grid_data_dir``, ``grid_reference``, ``grid_results``);
- the whole smoke report with the toy dataset, rendered once per session (``smoke_report``).
"""
from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
import torch

from helpers import CLI_GRID
from smoke_report import TOY_MODULE, Render, render_smoke_report, write_toy_dataset

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread (two OpenMP threads on a busy 2-core box spin-wait).
    Harmless for every test: training sets its own count (``cpu_threads``), child processes take
    theirs from their environment, and the tests about thread counts set the counts they check."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# (split, polarity, id, rating, text)
IMDB_REVIEWS = [
    ("train", "pos", 0, 9, "A great film.<br /><br />Loved it, really great!"),
    ("train", "pos", 1, 8, "Great acting; great story. Don't miss it."),
    ("train", "pos", 2, 10, "wonderful wonderful movie"),
    ("train", "pos", 3, 7, "good fun, great cast"),
    ("train", "pos", 4, 9, "<br />"),                       # no tokens at all -> one <unk>
    ("train", "neg", 0, 1, "A terrible film. Boring!"),
    ("train", "neg", 1, 2, "bad bad acting, terrible plot"),
    ("train", "neg", 2, 3, "boring and too long"),
    ("train", "neg", 3, 4, "I didn't like it: bad."),
    ("train", "neg", 4, 1, "awful"),
    ("test", "pos", 0, 10, "great great great"),
    ("test", "pos", 1, 8, "a zyzzyva of a movie, great"),  # 'zyzzyva' only in test -> <unk>
    ("test", "pos", 2, 9, "loved the cast"),
    ("test", "pos", 3, 7, "good"),
    ("test", "pos", 4, 10, "wonderful"),
    ("test", "neg", 0, 1, "terrible"),
    ("test", "neg", 1, 2, "bad"),
    ("test", "neg", 2, 3, "boring boring"),
    ("test", "neg", 3, 4, "not good"),
    ("test", "neg", 4, 1, "awful awful film"),
]

AG_TRAIN = (
    '"3","Wall St. Bears Claw Back Into the Black (Reuters)","Reuters - Short-sellers, Wall Street\'s '
    'dwindling\\band of ultra-cynics, are seeing green again."\n'
    '"2","Phelps wins, again","ATHENS -- Michael Phelps won his \\$10 ""gold"" medal."\n'
    '"1","Talks end","Leaders met in Paris.\\\\The talks ended  #39;early #39;. It isn #39;t over."\n'
    '"4","New chip, faster","Intel said the chip is faster, cheaper, and smaller."\n'
    '"3","Oil prices rise","Oil rose to  #36;46 a barrel."\n'
    '"1","Vote","Voters went to the polls."\n'
)
AG_TEST = (
    '"3","Fears for T N pension after talks","Unions representing workers at Turner   Newall say."\n'
    '"4","Space race","A second\\team of rocketeers."\n'
)


def imdb_targz(reviews=IMDB_REVIEWS, extra: bool = True) -> bytes:
    """An aclImdb_v1.tar.gz-shaped archive (with unsup and other files to be ignored)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as archive:
        def add(name: str, text: str) -> None:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if extra:
            add("aclImdb/README", "Large Movie Review Dataset")
            add("aclImdb/imdb.vocab", "the\nand\n")
            add("aclImdb/train/unsup/0_0.txt", "unlabelled review that must be ignored")
            add("aclImdb/train/urls_pos.txt", "http://example.org")
        for split, polarity, ident, rating, text in reviews:
            add(f"aclImdb/{split}/{polarity}/{ident}_{rating}.txt", text)
    return buf.getvalue()


def write_mirror(root: Path, files: dict[str, bytes], sums: dict[str, str] | None = None) -> Path:
    """A mirror folder with ``<dataset>/<file>`` and SHA256SUMS (``sums`` overrides checksums)."""
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for relpath, data in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        digest = (sums or {}).get(relpath, hashlib.sha256(data).hexdigest())
        lines.append(f"{digest}  {relpath}")
    (root / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """A fresh LTH_DATA_DIR, no mirror."""
    home = tmp_path / "data"
    monkeypatch.setenv("LTH_DATA_DIR", str(home))
    monkeypatch.delenv("LTH_DATA_MIRROR", raising=False)
    return home


@pytest.fixture
def tiny_mirror(tmp_path, monkeypatch, data_home):
    """LTH_DATA_MIRROR pointing at tiny IMDb and AG News files made here."""
    mirror = write_mirror(tmp_path / "mirror", {
        "imdb/aclImdb_v1.tar.gz": imdb_targz(),
        "ag_news/train.csv": AG_TRAIN.encode(),
        "ag_news/test.csv": AG_TEST.encode(),
    })
    monkeypatch.setenv("LTH_DATA_MIRROR", str(mirror))
    return mirror


@pytest.fixture
def no_network(monkeypatch):
    """Make every download fail as it does offline."""
    import urllib.error

    from lthlib.data import sources

    def fail(url, out, progress=True):
        raise urllib.error.URLError("[Errno -2] Name or service not known")
    monkeypatch.setattr(sources, "download", fail)


@pytest.fixture
def out_dirs(tmp_path, monkeypatch):
    """LTH_RESULTS_DIR and LTH_FIGURES_DIR under tmp_path (returned)."""
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("LTH_FIGURES_DIR", str(tmp_path / "figures"))
    return tmp_path


@pytest.fixture(scope="module")
def grid_data_dir(tmp_path_factory):
    """One prepared-data folder for the module (the synthetic smoke data, made once)."""
    from lthlib.data.prepare import forget_prepared
    folder = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LTH_DATA_DIR", str(folder))
        patch.delenv("LTH_DATA_MIRROR", raising=False)
        forget_prepared()
        yield folder


@pytest.fixture(scope="module")
def grid_reference(grid_data_dir, tmp_path_factory):
    """The local executor's store of helpers.CLI_GRID (two worker processes), through the `lth`
    command: what every other executor must reproduce."""
    from lthlib import cli
    from lthlib.experiment.store import Store
    root = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LTH_RESULTS_DIR", str(root))
        assert cli.main(["run", *CLI_GRID, "--executor", "local", "--workers", "2"]) == 0
    store = Store(root / "smoke")
    assert len(store.runs()) == 8  # 2 arms x 2 seeds x levels 0-1
    return store


@pytest.fixture
def grid_results(grid_data_dir, tmp_path, monkeypatch) -> Path:
    """A fresh LTH_RESULTS_DIR beside the module's prepared data."""
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path / "results"))
    return tmp_path / "results"


@pytest.fixture(scope="session")
def smoke_report(tmp_path_factory) -> Render:
    """``./run_all.sh --profile smoke -p datasets '["toy"]'``, every notebook, rendered once for
    test_run_all.py and test_toy_dataset.py: the toy dataset (smoke_report.py) is registered in
    every process by ``LTH_PLUGINS`` and is the report's only dataset, with the profile's models
    and seeds.  Only the toy dataset, because test_toy_dataset.py checks that nothing else
    trains; notebook 07 then has no transfer pair, and test_run_all.py renders it on its own."""
    root = tmp_path_factory.mktemp("smoke_report")
    mirror, plugins = write_toy_dataset(root)
    return render_smoke_report(root, ["-p", "datasets", '["toy"]'],
                               extra_env={"PYTHONPATH": str(plugins), "LTH_PLUGINS": TOY_MODULE,
                                          "LTH_DATA_MIRROR": str(mirror)})
