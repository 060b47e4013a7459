#!/usr/bin/env python3
"""The size of the tools bundle that egpu.mac.target_tools copies onto every Mac (egpu_setup.mac_bundle).

    .venv/bin/python bench/bundle_size.py [--json]

Prints the compressed size (what travels: the tar.gz), the size of its files and their count, per entry of
MAC_BUNDLE and in all. Goal (issue 10): at most 40% of the bundle before the lab moved out (697 KB as measured
then; 351,790 bytes gz / 1,291,352 bytes of files / 213 files on main before the move, measured with its
target_tools.build_bundle). Exits 1 when the bundle is over 40% of 697 KB.
"""

from __future__ import annotations

import argparse
import json
import sys

from egpu_setup.mac_bundle import MAC_BUNDLE, build_bundle, bundle_files

GOAL_BYTES = int(0.40 * 697 * 1000)


def measure(entries: tuple[str, ...] | list[str]) -> dict[str, int]:
    files = bundle_files(entries)
    return {
        "gz_bytes": len(build_bundle(entries)),
        "file_bytes": sum(path.stat().st_size for _, path in files),
        "files": len(files),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    rows = {entry: measure([entry]) for entry in MAC_BUNDLE}
    total = measure(MAC_BUNDLE)
    if args.json:
        print(json.dumps({"entries": rows, "total": total, "goal_gz_bytes": GOAL_BYTES}, indent=2))
    else:
        for entry, row in [*rows.items(), ("total", total)]:
            gz, raw = row["gz_bytes"] / 1000, row["file_bytes"] / 1000
            print(f"{entry:24} {gz:8.1f} KB gz {raw:8.1f} KB {row['files']:4} files")
        print(f"goal: at most {GOAL_BYTES / 1000:.1f} KB gz (40% of 697 KB)")
    return 0 if total["gz_bytes"] <= GOAL_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
