"""An exported ticket deploys without lthlib (issue #30, Export): the manifest carries the whole
text pipeline and the test split's rows, and the export's predict.py, run with numpy and
onnxruntime alone, reproduces the stored final_test_acc from the raw file; ``--out`` is checked
before anything trains; files honour the umask; no absolute paths; no progress redraws in a log.

The data are made here: an AG News-shaped test.csv (with the files' escapes), an aclImdb-shaped
archive (``<br />`` tags, longer reviews than max_len) and an SST-2-shaped archive.
"""
from __future__ import annotations

import contextlib
import csv
import html
import io
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from lthlib import cli
from lthlib.data.datasets import DATASETS, clean_ag_news, dataset, read_ag_news, read_imdb, read_sst2
from lthlib.data.prepare import forget_prepared, tokenize, tokenizer_spec
from lthlib.deploy import export
from lthlib.deploy import predict as standalone
from lthlib.experiment import progress

from conftest import SHARED_DATA, write_mirror

# ---------------------------------------------------------------------------------------------
# Data made here
# ---------------------------------------------------------------------------------------------

TOPICS = {1: "vote minister talks leaders war peace", 2: "match goal team season coach medal",
          3: "stocks shares profit oil prices market", 4: "chip software internet space computer web"}
ESCAPES = ["won \\$10 prize", "isn #39;t over", "a\\band apart", "A &amp; B", "&lt;b&gt;", "end.\\\\The",
           "cost  #36;46 a barrel", "caf\u00e9 \u00fcber"]


def ag_news_csv(n_per_class: int = 30, seed: int = 0) -> bytes:
    """AG News-shaped rows: "class","title","description" (every field quoted), with escapes."""
    rng = random.Random(seed)
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for i in range(n_per_class * 4):
        label = i % 4 + 1
        words = TOPICS[label].split() + TOPICS[rng.randint(1, 4)].split()[:2]
        title = " ".join(rng.choices(words, k=3)) + " " + rng.choice(ESCAPES)
        description = " ".join(rng.choices(words, k=rng.randint(4, 14))) + ". " + rng.choice(ESCAPES)
        writer.writerow([str(label), title, description])
    return buffer.getvalue().encode()


def aclimdb_targz(n_per_folder: int = 25, seed: int = 0) -> bytes:
    """aclImdb-shaped reviews (train and test, pos and neg), some longer than max_len."""
    rng = random.Random(seed)
    words = {"pos": "great wonderful loved fun superb".split(), "neg": "awful boring bad terrible dull".split()}
    common = "the film movie plot cast and it was a".split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for split in ("train", "test"):
            for polarity in ("pos", "neg"):
                for ident in range(n_per_folder):
                    text = " ".join(rng.choices(words[polarity] + common * 2, k=rng.randint(3, 40)))
                    text = text.replace(" it ", " it.<br /><br />It ", 1) + " Caf\u00e9!"
                    data = text.encode()
                    info = tarfile.TarInfo(f"aclImdb/{split}/{polarity}/{ident}_{rng.randint(1, 10)}.txt")
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sst2_targz() -> bytes:
    """SST-2-shaped train.tsv and dev.tsv (quoting off: a '"' is text)."""
    rows = {"train": ["a \"great\" film\t1", "dull\t0", "", "loved it !\t1"], "dev": ["bad , bad\t0", "fun\t1"]}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, lines in rows.items():
            data = ("sentence\tlabel\n" + "\n".join(lines) + "\n").encode()
            info = tarfile.TarInfo(f"SST-2/{name}.tsv")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


UMASK = 0o027


@pytest.fixture(scope="module")
def tickets(tmp_path_factory):
    """`lth export` of two networks it trains first (one epoch, level 1), each from files made
    here: AG News (test_resplit: test.csv alone, re-split; CNN, four classes) and IMDb (study:
    pooled, an eval_subsample, max_len 20; BiLSTM, one logit); written under umask 027."""
    root = tmp_path_factory.mktemp("standalone")
    mirror = write_mirror(root / "mirror", {"ag_news/test.csv": ag_news_csv(),
                                            "imdb/aclImdb_v1.tar.gz": aclimdb_targz()})
    runs = {"ag_news": ("cnn", ["protocol=test_resplit", "epochs=1", "levels=1"]),
            "imdb": ("lstm", ["epochs=1", "levels=1", "eval_subsample=10", "max_len=20"])}
    out = {}
    before = os.umask(UMASK)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("LTH_RESULTS_DIR", str(root / "results"))
            patch.setenv("LTH_DATA_DIR", str(root / "data"))
            patch.setenv("LTH_DATA_MIRROR", str(mirror))
            forget_prepared()
            for name, (model, settings) in runs.items():
                folder = root / f"ticket_{name}"
                stdout = io.StringIO()
                with contextlib.redirect_stdout(stdout):
                    rc = cli.main(["export", "--profile", "smoke", "--dataset", name, "--model", model,
                                   "--level", "1", "--out", str(folder), "--set", *settings])
                assert rc == 0, stdout.getvalue()
                out[name] = (folder, stdout.getvalue())
    finally:
        os.umask(before)
        forget_prepared()
    return root, mirror, out


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / export.MANIFEST).read_text())


BLOCK_LTHLIB_AND_TORCH = """
import runpy, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("lthlib", "torch"):
            raise ImportError("predict.py may not import " + name)
sys.meta_path.insert(0, Block())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_script(folder: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The export's predict.py in a clean environment (no PYTHONPATH, no LTH_*, -I: no user site,
    not the repository on the path), lthlib and torch unimportable."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-I", "-c", BLOCK_LTHLIB_AND_TORCH, str(folder / "predict.py"), *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


# ---------------------------------------------------------------------------------------------
# The standalone script reproduces final_test_acc
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["ag_news", "imdb"])
def test_predict_py_alone_reproduces_the_stored_final_test_acc(tickets, tmp_path, name):
    root, mirror, out = tickets
    folder, _ = out[name]
    manifest = manifest_of(folder)
    shipped = tmp_path / "shipped"  # only what ships: no store, no lthlib beside it
    shipped.mkdir()
    for file in ("predict.py", "manifest.json", "model.onnx"):
        (shipped / file).write_bytes((folder / file).read_bytes())
    done = run_script(shipped, "--data", str(mirror), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    result = json.loads(done.stdout.strip().splitlines()[-1])
    stored = manifest["run"]["stored"]["final_test_acc"]
    n_test = manifest["data"]["n_test"]
    assert result["same"] is True and result["rows"] == n_test
    assert result["correct"] == round(stored * n_test) and result["accuracy"] == pytest.approx(stored)
    assert "the same" in done.stdout
    if name == "imdb":  # the seeded eval_subsample of the pooled test set is what was scored
        assert n_test == 10 and len(manifest["data"]["test_rows"]["imdb/aclImdb_v1.tar.gz"]) == 10


def test_predict_py_finds_a_file_by_its_name_and_scores_every_row_on_request(tickets, tmp_path):
    root, mirror, out = tickets
    folder, _ = out["ag_news"]
    flat = tmp_path / "downloads"
    flat.mkdir()
    (flat / "test.csv").write_bytes((mirror / "ag_news" / "test.csv").read_bytes())
    done = run_script(folder, "--data", str(flat), "--all-rows", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rows"] == 120 and result["all_rows"] and result["same"] is None
    assert "WARNING: ag_news/test.csv mixes" in done.stdout
    texts = run_script(folder, "--text", "stocks profit market oil", "--text", "", cwd=tmp_path)
    assert texts.returncode == 0 and len(texts.stdout.splitlines()) == 2
    assert texts.stdout.split("\t")[0] in manifest_of(folder)["model"]["class_names"]


def test_predict_py_names_a_missing_file_and_a_damaged_model(tickets, tmp_path):
    root, mirror, out = tickets
    folder, _ = out["ag_news"]
    done = run_script(folder, "--data", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2 and "ag_news/test.csv is not in" in done.stderr and "--file" in done.stderr
    copy = tmp_path / "copy"
    copy.mkdir()
    for file in ("predict.py", "manifest.json"):
        (copy / file).write_bytes((folder / file).read_bytes())
    (copy / "model.onnx").write_bytes((folder / "model.onnx").read_bytes()[:-10])
    done = run_script(copy, "--data", str(mirror), cwd=tmp_path)
    assert done.returncode == 2 and "SHA-256 is not the manifest's" in done.stderr


def test_predict_py_imports_only_the_standard_library_numpy_and_onnxruntime():
    source = Path(standalone.__file__).read_text()
    imported = set(re.findall(r"^\s*(?:from|import) ([\w.]+)", source, flags=re.MULTILINE))
    top = {name.split(".")[0] for name in imported}
    assert top - set(sys.stdlib_module_names) == {"numpy", "onnxruntime"}


# ---------------------------------------------------------------------------------------------
# The manifest
# ---------------------------------------------------------------------------------------------

def test_the_manifest_carries_the_text_pipeline_labels_truncation_and_test_rows(tickets):
    root, mirror, out = tickets
    ag = manifest_of(out["ag_news"][0])
    data = ag["data"]
    assert (data["dataset"], data["protocol"]) == ("ag_news", "test_resplit")
    pipeline = data["pipeline"]
    assert [part["fields"] for part in pipeline["text"]["parts"]] == ["1", "2:"]
    assert pipeline["text"]["separator"] == " "
    assert [step["op"] for step in pipeline["text"]["parts"][0]["clean"]] == [
        "replace", "replace", "codepoint", "html_unescape"]
    assert pipeline["label"]["map"] == {"1": 0, "2": 1, "3": 2, "4": 3} and pipeline["label"]["field"] == "0"
    tokenizer = ag["tokenizer"]
    assert tokenizer["truncation"]["keep"] == "first" and tokenizer["unk_id"] == 1 and tokenizer["pad_id"] == 0
    assert tokenizer["normalize"][-1] == {"op": "lower"}
    # the test rows: a stratified 20% of test.csv's 120 rows; the other 96 trained or validated it
    (entry,) = data["files"]
    assert entry["path"] == "ag_news/test.csv" and entry["checksum"].startswith("sha256:")
    assert (entry["labelled_rows"], entry["test_rows"], entry["pool_rows"]) == (120, 24, 96)
    assert entry["trained_rows"] + entry["validated_rows"] == 96
    rows = data["test_rows"]["ag_news/test.csv"]
    assert len(rows) == data["n_test"] == 24 and rows == sorted(rows) and all(1 <= r <= 120 for r in rows)
    (warning,) = data["warnings"]
    assert "96 of its 120 labelled rows" in warning and "overstates" in warning
    assert f"WARNING: {warning}" in out["ag_news"][1]  # and lth export printed it
    imdb = manifest_of(out["imdb"][0])["data"]
    assert imdb["pipeline"]["label"]["map"] == {"neg": 0, "pos": 1}
    assert imdb["pipeline"]["reader"]["format"] == "tar_members"
    assert all(re.fullmatch(r"aclImdb/(train|test)/(pos|neg)/\d+_\d+\.txt", r)
               for r in imdb["test_rows"]["imdb/aclImdb_v1.tar.gz"])
    assert imdb["notes"] and "seeded 10 of the protocol's" in imdb["notes"][0]
    assert manifest_of(out["imdb"][0])["tokenizer"]["max_len"] == 20


def test_the_manifest_holds_no_absolute_path(tickets):
    root, _, out = tickets
    for folder, _ in out.values():
        manifest = manifest_of(folder)

        def strings(value):
            if isinstance(value, dict):
                for key, item in value.items():
                    yield key
                    yield from strings(item)
            elif isinstance(value, list):
                for item in value:
                    yield from strings(item)
            elif isinstance(value, str):
                yield value
        found = [s for s in strings(manifest) if str(root) in s or (len(s) > 1 and os.path.isabs(s))]
        assert not found, found
        weights = manifest["run"]["weights"]
        assert weights["relative_to"] == "export folder"
        assert (folder / weights["path"]).resolve().read_bytes()  # the relative path leads to final.pt


def test_every_exported_file_honours_the_umask(tickets):
    for folder, _ in tickets[2].values():
        modes = {path.name: path.stat().st_mode & 0o777 for path in folder.iterdir()}
        assert set(modes.values()) == {0o666 & ~UMASK}, modes


# ---------------------------------------------------------------------------------------------
# One description, two interpreters
# ---------------------------------------------------------------------------------------------

def lthlib_rows(name: str, path: Path) -> dict:
    """row id -> (text, label) as lthlib's reader reads the file."""
    read = {"ag_news": lambda p: read_ag_news(p, "test"), "imdb": read_imdb, "sst2": read_sst2}[name]
    identify = dataset(name).pipeline.identify
    return {identify(e)[1]: (e.text, e.label) for e in read(path)}


def standalone_rows(name: str, path: Path) -> dict:
    pipeline = standalone.Pipeline(json.loads(json.dumps(dataset(name).pipeline.describe())))
    return {row_id: (pipeline.text_of(fields), pipeline.label_of(fields)) for row_id, fields in pipeline.rows(path)}


@pytest.mark.parametrize("name, relpath, made", [("ag_news", "ag_news/test.csv", ag_news_csv),
                                                 ("imdb", "imdb/aclImdb_v1.tar.gz", aclimdb_targz),
                                                 ("sst2", "sst2/SST-2.tar.gz", sst2_targz)])
def test_predict_py_reads_the_texts_and_labels_lthlib_reads(tmp_path, name, relpath, made):
    path = tmp_path / Path(relpath).name
    path.write_bytes(made())
    ours = lthlib_rows(name, path)
    assert ours and standalone_rows(name, path) == ours


def real_mirror() -> Path | None:
    for folder in (os.environ.get("LTH_DATA_MIRROR"), SHARED_DATA):
        if folder and (Path(folder) / "SHA256SUMS").is_file():
            return Path(folder)
    return None


@pytest.mark.skipif(real_mirror() is None, reason="no offline mirror of the real files")
@pytest.mark.parametrize("name, relpath", [("ag_news", "ag_news/test.csv"), ("sst2", "sst2/SST-2.tar.gz"),
                                           ("imdb", "imdb/aclImdb_v1.tar.gz")])
def test_on_the_real_files_too(name, relpath):
    path = real_mirror() / relpath
    if not path.is_file():
        pytest.skip(f"no {relpath} in the mirror")
    ours = lthlib_rows(name, path)
    assert len(ours) > 800 and standalone_rows(name, path) == ours


def test_every_dataset_with_files_describes_its_pipeline():
    for entry in DATASETS:
        files = [f for p in entry.protocols for f in p.files]
        assert (entry.pipeline is not None) == bool(files), entry.name
        if entry.pipeline is not None:
            description = json.loads(json.dumps(entry.pipeline.describe()))  # JSON as it is
            standalone.Pipeline(description)


def old_clean_ag_news(text: str) -> str:
    """clean_ag_news before it became CLEANING's steps."""
    text = re.sub(r"\\+(\$)?", lambda m: "$" if m.group(1) else " ", text)
    text = re.sub(r"(?:^| )#(\d{1,5});", lambda m: chr(int(m.group(1))), text)
    return html.unescape(text)


def test_the_cleaning_steps_are_the_old_cleaning():
    rng = random.Random(0)
    alphabet = ["\\", "$", "#", "3", "9", ";", " ", "&", "a", "amp;", "lt;", "#39;", " #36;", "\\$"]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        assert clean_ag_news(text) == old_clean_ag_news(text), repr(text)
    clean = standalone.compile_steps(dataset("ag_news").pipeline.text[0].clean)
    assert clean("it #39;s  #36;46 &amp; \\$3 a\\b") == old_clean_ag_news("it #39;s  #36;46 &amp; \\$3 a\\b")


def test_the_tokenizer_spec_is_the_tokenizer():
    spec = {**tokenizer_spec(), "vocabulary": ["<pad>", "<unk>", "good"], "max_len": None}
    tokenizer = standalone.Tokenizer(spec)
    for text in ["Good!<BR/>Don't  stop", "a<br />b<br>c<Br / >", "\u00c9COLE caf\u00e9 o'neill's", "", "   "]:
        words = tokenize(text)
        assert tokenizer.token.findall(tokenizer.normalize(text)) == words
        assert tokenizer.ids(text) == ([{"good": 2}.get(w, 1) for w in words] or [1])


# ---------------------------------------------------------------------------------------------
# lth export's own checks
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["/proc/x", "FILE/sub", "FILE"])
def test_a_bad_out_is_refused_in_one_line_before_anything_trains(tmp_path, monkeypatch, capsys, bad):
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("LTH_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "FILE").write_text("a file")
    out = bad.replace("FILE", str(tmp_path / "FILE"))
    if out == "/proc/x" and not Path("/proc").is_dir():
        pytest.skip("no /proc")
    args = ["export", "--profile", "smoke", "--dataset", "synthetic", "--model", "cnn", "--level", "1",
            "--out", out, "--set", "epochs=1", "levels=1"]
    assert cli.main(args) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"lth: --out {out}") and len(captured.err.strip().splitlines()) == 1
    assert "training it first" not in captured.out and not (tmp_path / "results").exists()


def test_the_unknown_model_message_lists_only_exportable_models(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path / "results"))
    args = ["export", "--profile", "smoke", "--dataset", "synthetic", "--model", "transformer", "--level", "0",
            "--no-train"]
    assert cli.main(args) == 2
    error = capsys.readouterr().err
    assert "does not know model 'transformer'" in error and "cnn, lstm" in error
    assert "gru" not in error and "rnn" not in error


#: a metrics.json the progress count takes as a trained network (it parses and holds its row)
WHOLE_METRICS = json.dumps({"row": {"level": 1}})


def test_no_progress_bar_redraws_into_a_file(tmp_path, monkeypatch, capsys):
    """On a non-terminal stderr the networks' bar is not drawn (it redrew every second: ~110
    lines in a log); a plain line at most every LOG_SECONDS, when the count moved."""
    monkeypatch.setattr(progress, "POLL_SECONDS", 0.01)
    markers = [tmp_path / f"m{i}" for i in range(4)]
    with progress.NetworkProgress(markers, show=True):
        for marker in markers[:3]:
            marker.write_text(WHOLE_METRICS)
            time.sleep(0.1)
    err = capsys.readouterr().err
    assert "\r" not in err and err.strip() == ""
    monkeypatch.setattr(progress, "LOG_SECONDS", 0.0)
    with progress.NetworkProgress(markers, show=True):
        markers[3].write_text(WHOLE_METRICS)
        time.sleep(0.2)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["networks: trained 1 of 4 networks (3 were in the store); none left"]
    assert progress.draws_bars(type("Tty", (), {"isatty": lambda self: True})())
