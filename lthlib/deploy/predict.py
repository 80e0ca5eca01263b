#!/usr/bin/env python3
"""Score an exported ticket on its test set from the official raw file: onnxruntime, no lthlib.

``lth export`` writes this file into every export as ``predict.py``; it needs Python 3.8 or
later, numpy and onnxruntime, and nothing of lthlib or PyTorch.  It reads ``manifest.json``
beside it, rebuilds the text pipeline the manifest describes (the file's reader, which fields
make the text and their cleaning, the label mapping, the tokenizer, the vocabulary and the
truncation), scores the rows the manifest lists as the run's test set with the ONNX model, and
prints the accuracy beside the stored ``final_test_acc``::

    python predict.py --data DIR       DIR holds the file(s) the manifest names, as
                                       DIR/ag_news/test.csv or DIR/test.csv (an offline mirror,
                                       lthlib's data/raw, or a folder of your own)
    python predict.py --file ag_news/test.csv=PATH   a file given by its own path
    python predict.py --model model_int8.onnx ...    another ONNX form (default: model.onnx)
    python predict.py --all-rows ...   every labelled row of the files, training rows included
                                       (what the manifest's warnings are about)
    python predict.py --text "some words" [--text ...]   the class of each text

Exit status: 0 when scored (and, with the fp32 model, the accuracy is the stored one), 1 when
the fp32 model's accuracy differs from the stored one, 2 for a missing or unreadable file.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import html
import io
import json
import re
import sys
import tarfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MANIFEST = "manifest.json"


class Failed(Exception):
    """A file missing, unreadable or not the manifest's: the message says which and what to do."""


# ---------------------------------------------------------------------------------------------
# The manifest's pipeline: cleaning steps, fields, readers
# ---------------------------------------------------------------------------------------------

def compile_steps(steps):
    """One function applying the cleaning steps in order (replace, codepoint, html_unescape, lower)."""
    actions = []
    for step in steps:
        flags = 0
        for name in step.get("flags", ()):
            flags |= getattr(re, name)
        op = step["op"]
        if op == "replace":
            actions.append(lambda text, p=re.compile(step["pattern"], flags), t=step["with"]: p.sub(t, text))
        elif op == "codepoint":
            actions.append(lambda text, p=re.compile(step["pattern"], flags): p.sub(lambda m: chr(int(m.group(1))),
                                                                                   text))
        elif op == "html_unescape":
            actions.append(html.unescape)
        elif op == "lower":
            actions.append(str.lower)
        else:
            raise Failed(f"the manifest names a cleaning step this script does not know: {op!r}")

    def apply(text):
        for action in actions:
            text = action(text)
        return text
    return apply


def field_values(fields, spec):
    """``"1"``: a row's column 1; ``"2:"``: columns 2 to the end; a name: a member's field."""
    if spec.isdigit():
        return [fields[int(spec)]]
    if spec.endswith(":") and spec[:-1].isdigit():
        return list(fields[int(spec[:-1]):])
    return [fields[spec]]


class Pipeline:
    """A raw row's fields -> its text and its class, as the manifest's ``data.pipeline`` says."""

    def __init__(self, description):
        self.description = description
        self.reader = description["reader"]
        text = description["text"]
        self.parts = [(part["fields"], part["join"], compile_steps(part["clean"])) for part in text["parts"]]
        self.separator = text["separator"]
        self.label = description["label"]

    def text_of(self, fields):
        return self.separator.join(clean(join.join(field_values(fields, spec))) for spec, join, clean in self.parts)

    def label_of(self, fields):
        raw = field_values(fields, self.label["field"])[0]
        return self.label["map"][raw.strip() if self.label.get("strip") else raw]

    def rows(self, path):
        """(row id, fields) of every row of one file, in its order (module docstring of the
        manifest's ``row_id``)."""
        reader = self.reader
        if reader["format"] == "delimited":
            if reader.get("archive"):
                for member, data in tar_members(path, reader["members"]):
                    text = data.decode(reader["encoding"], reader.get("errors", "strict"))
                    for record, row in self._records(io.StringIO(text, newline="")):
                        yield f"{member}:{record}", row
            else:
                with open(path, newline="", encoding=reader["encoding"]) as handle:
                    yield from self._records(handle)
        elif reader["format"] == "tar_members":
            for member, data in tar_members(path, reader["members"]):
                fields = dict(re.fullmatch(reader["members"], member).groupdict())
                fields["content"] = data.decode(reader["encoding"], reader.get("errors", "strict"))
                yield member, fields
        else:
            raise Failed(f"the manifest names a file format this script does not know: {reader['format']!r}")

    def _records(self, handle):
        quoting = csv.QUOTE_NONE if self.reader["quoting"] == "none" else csv.QUOTE_MINIMAL
        for record, row in enumerate(csv.reader(handle, delimiter=self.reader["delimiter"], quoting=quoting),
                                     start=1):
            if row and not (self.reader["header"] and record == 1):
                yield record, row


def tar_members(path, pattern):
    """(name without a leading './', bytes) of each file in a tar.gz whose name matches ``pattern``."""
    with tarfile.open(path, mode="r|gz") as archive:
        for member in archive:
            if member.isfile() and re.fullmatch(pattern, member.name):
                name = member.name[2:] if member.name.startswith("./") else member.name
                yield name, archive.extractfile(member).read()


class Tokenizer:
    """Text -> token ids, as the manifest's ``tokenizer`` says (normalize, token_pattern,
    vocabulary, unk_id, truncation)."""

    def __init__(self, spec):
        self.normalize = compile_steps(spec["normalize"])
        self.token = re.compile(spec["token_pattern"])
        self.stoi = {word: i for i, word in enumerate(spec["vocabulary"])}
        self.unk, self.pad = spec["unk_id"], spec["pad_id"]
        self.max_len = spec["max_len"]
        if spec.get("truncation", {}).get("keep", "first") != "first":
            raise Failed(f"the manifest's truncation keeps {spec['truncation']['keep']!r}; this script keeps the first")

    def ids(self, text):
        get, unk = self.stoi.get, self.unk
        ids = [get(token, unk) for token in self.token.findall(self.normalize(text))] or [unk]
        return ids[:self.max_len] if self.max_len else ids


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------

def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def session_of(path, threads):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def predict(session, manifest, id_lists, batch_size=64):
    """The class of each example (a list of token ids), batch by batch, each padded with pad_id
    to its batch's longest."""
    tokens_name, lengths_name = manifest["input_names"]
    output = manifest["output_name"]
    pad = manifest["tokenizer"]["pad_id"]
    one_logit = manifest["model"]["n_out"] == 1
    classes = []
    for start in range(0, len(id_lists), batch_size):
        chunk = id_lists[start:start + batch_size]
        lengths = np.array([len(ids) for ids in chunk], dtype=np.int64)
        tokens = np.full((len(chunk), int(lengths.max())), pad, dtype=np.int64)
        for row, ids in enumerate(chunk):
            tokens[row, :len(ids)] = ids
        logits = session.run([output], {tokens_name: tokens, lengths_name: lengths})[0]
        classes.extend((logits[:, 0] > 0).astype(np.int64) if one_logit else logits.argmax(axis=1))
    return [int(c) for c in classes]


def find_file(relpath, data_dirs, given):
    if relpath in given:
        return Path(given[relpath])
    for folder in data_dirs:
        for candidate in (Path(folder) / relpath, Path(folder) / Path(relpath).name):
            if candidate.is_file():
                return candidate
    return None


def test_examples(manifest, pipeline, data_dirs, given, all_rows):
    """(texts, labels, what was read) of the manifest's test rows (or every row: ``all_rows``)."""
    data = manifest["data"]
    texts, labels, read = [], [], []
    for entry in data["files"]:
        relpath = entry["path"]
        wanted = None if all_rows else data["test_rows"].get(relpath, [])
        if wanted is not None and not wanted:
            continue
        path = find_file(relpath, data_dirs, given)
        if path is None:
            raise Failed(f"{relpath} is not in {', '.join(map(str, data_dirs)) or 'any --data folder'}: give "
                         f"--data DIR (DIR/{relpath} or DIR/{Path(relpath).name}) or --file {relpath}=PATH; "
                         f"the official file is {entry.get('url') or 'named in the manifest'}")
        algorithm, _, expected = entry["checksum"].partition(":")
        if algorithm == "sha256" and sha256_of(path) != expected:
            print(f"note: {path} is not the file the model was trained from (its SHA-256 differs from "
                  f"{expected[:12]}...); its rows are looked up by their ids all the same", file=sys.stderr)
        found = {}
        keep = None if wanted is None else set(wanted)
        try:
            for row_id, fields in pipeline.rows(path):
                if keep is None or row_id in keep:
                    found[row_id] = fields
        except (OSError, tarfile.TarError, EOFError, UnicodeDecodeError, csv.Error) as error:
            raise Failed(f"{path} could not be read as {relpath} ({type(error).__name__}: {error})") from error
        order = list(found) if wanted is None else wanted
        missing = [row_id for row_id in order if row_id not in found]
        if missing:
            raise Failed(f"{path} lacks {len(missing):,} of the manifest's {len(order):,} test rows (the first: "
                         f"{missing[0]!r}); it is not the file this model was evaluated on")
        for row_id in order:
            texts.append(pipeline.text_of(found[row_id]))
            labels.append(pipeline.label_of(found[row_id]))
        read.append((relpath, path, len(order)))
    return texts, labels, read


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", action="append", default=[], metavar="DIR",
                        help="a folder holding the manifest's files (DIR/<dataset>/<file> or DIR/<file>)")
    parser.add_argument("--file", action="append", default=[], metavar="RELPATH=PATH",
                        help="one of the manifest's files by its own path")
    parser.add_argument("--model", default=None, help="the ONNX file (default: the manifest's fp32 model.onnx)")
    parser.add_argument("--text", action="append", help="classify this text instead (repeatable)")
    parser.add_argument("--all-rows", action="store_true", help="score every labelled row of the files")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime's threads (default: 1)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the result")
    parser.add_argument("--manifest", default=str(HERE / MANIFEST), help="(default: manifest.json beside this file)")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except Failed as error:
        print(f"predict.py: {error}", file=sys.stderr)
        return 2


def run(args):
    manifest_path = Path(args.manifest)
    folder = manifest_path.parent
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise Failed(f"{manifest_path}: {error}") from error
    files = manifest["files"]
    fp32_name = files["onnx_fp32"]["path"]
    model = Path(args.model) if args.model else folder / fp32_name
    if not model.is_absolute() and not model.exists():
        model = folder / model
    if not model.is_file():
        zst = model.with_name(model.name + ".zst")
        hint = f" (decompress {zst.name} first: zstd -d {zst.name})" if zst.is_file() else ""
        raise Failed(f"no ONNX model at {model}{hint}")
    listed = {entry["path"]: entry for entry in files.values()}
    if model.name in listed and model.parent.resolve() == folder.resolve():
        if sha256_of(model) != listed[model.name]["sha256"]:
            raise Failed(f"{model}: its SHA-256 is not the manifest's; the file is damaged or from another export")
    session = session_of(model, args.threads)
    tokenizer = Tokenizer(manifest["tokenizer"])
    classes = manifest["model"]["class_names"]

    if args.text:
        for text, label in zip(args.text, predict(session, manifest, [tokenizer.ids(t) for t in args.text])):
            print(f"{classes[label]}\t{text}")
        return 0

    data = manifest["data"]
    if data.get("pipeline") is None:
        raise Failed(f"{data['dataset']}: {data.get('note') or 'the manifest describes no raw file'}; "
                     f"classify texts with --text")
    pipeline = Pipeline(data["pipeline"])
    bad = [item for item in args.file if "=" not in item]
    if bad:
        raise Failed(f"--file {bad[0]}: write RELPATH=PATH, e.g. --file {data['files'][0]['path']}=/downloads/x")
    given = dict(item.split("=", 1) for item in args.file)
    texts, labels, read = test_examples(manifest, pipeline, args.data, given, args.all_rows)
    predicted = predict(session, manifest, [tokenizer.ids(text) for text in texts])
    correct = sum(int(p == y) for p, y in zip(predicted, labels))
    n = len(labels)
    what = "every labelled row" if args.all_rows else "the test rows"
    print(f"{data['display']}, protocol {data['protocol']}: {model.name} on {what} of "
          + ", ".join(f"{relpath} ({count:,} rows)" for relpath, _, count in read))
    for warning in data.get("warnings", []):
        print(f"WARNING: {warning}")
    stored = manifest["run"]["stored"].get("final_test_acc")
    accuracy = correct / n if n else float("nan")
    line = f"accuracy {accuracy:.2%} ({correct:,} of {n:,})"
    same = None
    if stored is not None and not args.all_rows:
        stored_correct = round(stored * data["n_test"])
        same = correct == stored_correct and n == data["n_test"]
        verdict = "the same" if same else "DIFFERENT"
        if not same and model.name != fp32_name:
            verdict = f"different, as expected: the stored one is the fp32 graph's ({fp32_name}), not {model.name}'s"
        line += f"; stored final_test_acc {stored:.2%} ({stored_correct:,} of {data['n_test']:,}): {verdict}"
    print(line)
    if args.json:
        print(json.dumps({"model": model.name, "rows": n, "correct": correct, "accuracy": accuracy,
                          "stored_final_test_acc": stored, "same": same, "all_rows": args.all_rows}))
    return 1 if same is False and model.name == fp32_name else 0


if __name__ == "__main__":
    sys.exit(main())
