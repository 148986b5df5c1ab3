#!/usr/bin/env python3
"""Regenerate the browsable copies of the data files shipped inside the package.

The package copies under ``rigctl/data/`` are the source of truth (they are what an
installed rigctl reads). The top-level ``hardware/``, ``protocols/`` and
``resources/datasets/`` folders hold copies for browsing a checkout; this script
rewrites them from the package. It never deletes: a file that exists only at the top
level is reported (and the script exits 1) so that nobody's new file is lost.

    python scripts/sync_data.py           # rewrite the copies
    python scripts/sync_data.py --check   # only report differences (exit 1 if any)
    python scripts/sync_data.py --from-top-level   # merging a branch that edited the copies

To change a shipped file, edit the package copy and run this script. For a file that
exists only at the top level, copy it into the package (``cp protocols/new.json
rigctl/data/protocols/``) or delete it, then run this script again.

``--from-top-level`` goes the other way, once: every top-level copy that differs from the
package (or that the package lacks) is copied into the package. It is for merging work
that edited ``hardware/``, ``protocols/`` or ``resources/datasets/`` directly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("rigctl/data/rigs", "hardware", "*.toml"),
    ("rigctl/data/protocols", "protocols", "*.json"),
    ("rigctl/data/datasets", "resources/datasets", "*.json"),
)
"""(package folder, top-level copy, file pattern) for every kind of shipped data."""


def differences(root: Path = ROOT) -> list[str]:
    """One line per top-level copy that is not byte-identical to its package file."""
    lines = []
    for src_dir, dst_dir, pattern in PAIRS:
        sources = {p.name: p for p in (root / src_dir).glob(pattern)}
        copies = {p.name: p for p in (root / dst_dir).glob(pattern)}
        for name, src in sorted(sources.items()):
            copy = copies.get(name)
            if copy is None:
                lines.append(f"{dst_dir}/{name}: missing (the package has {src_dir}/{name})")
            elif copy.read_bytes() != src.read_bytes():
                lines.append(f"{dst_dir}/{name}: differs from {src_dir}/{name}")
        for name in sorted(copies.keys() - sources.keys()):
            lines.append(f"{dst_dir}/{name}: not in the package ({src_dir}/ has no {name})")
    return lines


def sync(root: Path = ROOT) -> list[str]:
    """Rewrite the top-level copies from the package; the lines of what changed."""
    changed = []
    for src_dir, dst_dir, pattern in PAIRS:
        (root / dst_dir).mkdir(parents=True, exist_ok=True)
        sources = {p.name: p for p in (root / src_dir).glob(pattern)}
        for name, src in sorted(sources.items()):
            dst = root / dst_dir / name
            data = src.read_bytes()
            if not dst.exists() or dst.read_bytes() != data:
                dst.write_bytes(data)
                changed.append(f"{dst_dir}/{name}: written from {src_dir}/{name}")
    return changed


def adopt_top_level(root: Path = ROOT) -> list[str]:
    """Copy every top-level file that differs from the package into the package."""
    changed = []
    for src_dir, dst_dir, pattern in PAIRS:
        (root / src_dir).mkdir(parents=True, exist_ok=True)
        for copy in sorted((root / dst_dir).glob(pattern)):
            src = root / src_dir / copy.name
            data = copy.read_bytes()
            if not src.exists() or src.read_bytes() != data:
                src.write_bytes(data)
                changed.append(f"{src_dir}/{copy.name}: written from {dst_dir}/{copy.name}")
    return changed


def main(argv: list[str] | None = None) -> int:
    """Run the script; exit status 1 when ``--check`` finds differences."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report differences only")
    parser.add_argument(
        "--from-top-level",
        action="store_true",
        help="copy top-level files that differ into the package (for merges), then check",
    )
    args = parser.parse_args(argv)
    if args.from_top_level:
        for line in adopt_top_level():
            print(line)
    if args.check:
        lines = differences()
        for line in lines:
            print(line)
        if lines:
            print("run: python scripts/sync_data.py", file=sys.stderr)
        return 1 if lines else 0
    for line in sync():
        print(line)
    left = differences()  # only files missing from the package can remain
    for line in left:
        print(line, file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
