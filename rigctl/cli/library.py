"""``rigctl protocols``: the protocol library shipped with rigctl."""

from __future__ import annotations

import argparse
import json

from rigctl import protocol as proto
from rigctl.data import SHIPPED_RIGS, protocol_paths, rig_path


def _cmd_protocols(args: argparse.Namespace) -> int:
    paths = protocol_paths()
    if args.paths:
        for path in paths:
            print(path)
        return 0
    records = []
    for path in paths:
        exp = proto.load(path)  # shipped files: a broken one is a packaging bug, not input
        records.append({"name": path.stem, "title": exp.metadata.name, "file": str(path)})
    if args.json:
        rigs = {name: str(rig_path(name)) for name in SHIPPED_RIGS}
        print(json.dumps({"protocols": records, "rigs": rigs}, indent=2))
        return 0
    width = max((len(r["name"]) for r in records), default=0)
    for r in records:
        print(f"{r['name']:<{width}}  {r['title']}")
    print(f"\nfiles: {paths[0].parent if paths else '(none)'}")
    print(f"shipped rigs (--rig NAME): {', '.join(SHIPPED_RIGS)}")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this module's commands to the ``rigctl`` parser."""
    p = sub.add_parser("protocols", help="list the protocol library shipped with rigctl")
    p.add_argument("--paths", action="store_true", help="print only the files' paths")
    p.add_argument("--json", action="store_true", help="print the library (and rigs) as JSON")
    p.set_defaults(func=_cmd_protocols)
