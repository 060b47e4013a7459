"""`python -m egpu_setup.builds ROOT`: print the build key of the build under ROOT when every file of it is intact.

What the mxnet role asks a Mac (with the target tools' Python) to tell whether it holds a build already: nothing
is printed for no build, a damaged one, or one whose files changed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from egpu_setup.builds.archive import intact


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m egpu_setup.builds ROOT", file=sys.stderr)
        return 2
    manifest = intact(Path(argv[0]))
    if manifest is not None:
        print(manifest.get("key", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
