"""Stand-in for PyPI's numpy-1.23.5-cp311-cp311-macosx_10_9_x86_64.whl: the real wheel's file name, dist-info
directory, WHEEL tag and Root-Is-Purelib (facts/numpy.yaml, read from the file PyPI serves), holding our small
pure-Python numpy (numpy_src/numpy).

pip on the rehearsal Mac installs it only because the host looks like a Mac to it: uname says Darwin (uname_lib)
and platform.mac_ver() reads SystemVersion.plist, so pip's supported tags are macosx_10_13_x86_64 down to
macosx_10_4 and the wheel's cp311 macosx_10_9_x86_64 tag matches, as it does on a Mac with python.org's 3.11.
Divergence: no extension modules, no bundled dylibs, no f2py console scripts (nothing of egpu-setup runs them).
The archive is deterministic (sorted members, fixed times), so its digest stays the same from one lab to the next.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from egpu_lab import facts

SOURCE = Path(__file__).parent / "numpy_src"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def members() -> dict[str, bytes]:
    """The wheel's files, dist-info last (as bdist_wheel writes them)."""
    version = facts.value("numpy", "version")
    dist = facts.value("numpy", "dist_info")
    files = {
        path.relative_to(SOURCE).as_posix(): path.read_bytes()
        for path in sorted(SOURCE.rglob("*.py"))
        if "__pycache__" not in path.parts
    }
    files[f"{dist}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: numpy\nVersion: {version}\n"
        "Summary: numpy stand-in of the egpu-setup rehearsal lab\n"
        f"Requires-Python: {facts.value('numpy', 'requires_python')}\n"
    ).encode()
    purelib = "true" if facts.value("numpy", "root_is_purelib") else "false"
    files[f"{dist}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: egpu-setup rehearsal lab\nRoot-Is-Purelib: {purelib}\n"
        f"Tag: {facts.value('numpy', 'wheel_tag')}\n\n"
    ).encode()
    files[f"{dist}/top_level.txt"] = b"numpy\n"
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files.items())
    files[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
    return files


def build_wheel(out_dir: Path) -> Path:
    """Write the wheel into `out_dir` under the real wheel's file name; returns its path."""
    out = Path(out_dir) / facts.value("numpy", "wheel_filename")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members().items():
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out
