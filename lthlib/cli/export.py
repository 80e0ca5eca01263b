"""``lth export``: write a stored level as a deployable ticket: sparse checkpoint, ONNX, int8,
zstd copies and a manifest (:func:`lthlib.deploy.export.export_ticket`).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..nets.models import exportable_models
from .arguments import add_glove_dim, parse_settings, profile


def add_command(commands) -> None:
    _add_export(commands.add_parser("export", help="write a stored level as a deployable ticket (sparse "
                                    "checkpoint, ONNX, int8, zstd, manifest)"))


def _export_ticket(args: argparse.Namespace) -> int:
    from ..deploy.export import MANIFEST, SCRIPT, check_out_folder, default_folder, export_ticket
    from ..deploy.stored import find_level
    from ..machine.platform import display_path
    if args.out:  # before anything trains
        check_out_folder(Path(args.out))
    stored = find_level(profile(args.profile).name, args.dataset, args.model, args.arm, args.seed, args.level,
                        glove_dim=args.glove_dim, train=args.train, **parse_settings(args.set))
    folder = Path(args.out) if args.out else default_folder(stored)
    manifest = export_ticket(stored, folder)
    reference = manifest["reference"]["dense_fp32_checkpoint"]
    rows = [("dense fp32 checkpoint (reference)", reference["bytes"], reference["zstd_bytes"]),
            *[(entry["path"], entry["bytes"], entry["zstd"]["bytes"]) for entry in manifest["files"].values()]]
    print(f"lth: {stored.label}: {manifest['run']['remaining']:.1%} of the weights remain")
    for name, size, packed in rows:
        print(f"  {name:34} {size:>12,} B   zstd {packed:>12,} B")
    print(f"lth: wrote {display_path(folder / MANIFEST)} and the files above (with their .zst copies)")
    data = manifest["data"]
    for warning in data["warnings"]:
        print(f"lth: WARNING: {warning}")
    for note in data["notes"]:
        print(f"lth: note: {note}")
    if data["test_rows"]:
        print(f"lth: to check it without lthlib: python {display_path(folder / SCRIPT)} --data <folder holding "
              f"{', '.join(entry['path'] for entry in data['files'] if data['test_rows'].get(entry['path']))}>")
    return 0


def _add_export(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="smoke, quick or paper (default: paper with a GPU, else quick)")
    parser.add_argument("--dataset", required=True, help="the run's dataset")
    parser.add_argument("--model", required=True, help="the run's model (the exporter knows: "
                        f"{', '.join(exportable_models())})")
    parser.add_argument("--arm", default="winning_ticket", help="the run's arm (default: %(default)s); "
                        "a branch keeps no weights but at level 0")
    parser.add_argument("--seed", type=int, default=0, help="the run's seed (default: %(default)s)")
    parser.add_argument("--level", type=int, required=True, help="the level: 0 dense, 1.. pruned")
    parser.add_argument("--out", help="the folder (default: results/<profile>/exports/<run and level>/)")
    parser.add_argument("--no-train", dest="train", action="store_false", help="export only what the store "
                        "holds; without it, what the store lacks of the run up to --level is trained first, as "
                        "lth run would (a fresh clone's store holds no weights)")
    parser.add_argument("--set", action="extend", nargs="+", metavar="KEY=VALUE",
                        help="the parameters the run was trained with, as lth run took them")
    add_glove_dim(parser)
    parser.set_defaults(handler=_export_ticket)

