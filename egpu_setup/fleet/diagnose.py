"""`egpu-setup diagnose`: one tar.gz per Mac with what support asks for, nothing secret, bounded in size.

Members come from one read-only play (preflight's `preflight_diagnose_probes`: each a command whose output and
exit code are kept, capped on the Mac) and from the controller: the last run's ansible.log that names the host.
Every text member is passed through `redact` (the become password given with -K, and any `password=`-like value)
and capped at MAX_MEMBER_BYTES; manifest.json lists each member, its size and SHA-256, the command that made it,
its exit code and whether it was cut.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAX_MEMBER_BYTES = 1024 * 1024  # preflight_diagnose_max_bytes: the Mac cuts at one byte more
MANIFEST_KIND = "diagnose_manifest"
MANIFEST_VERSION = 1
# probe name -> member name in the bundle
PROBE_MEMBERS = {
    "sw_vers": "sw_vers.txt",
    "csrutil_status": "csrutil_status.txt",
    "kextstat": "kextstat_nvidia.txt",
    "webdriver_required_os": "nvda_required_os_webdriver.txt",
    "egpu_support_required_os": "nvda_required_os_egpu_support.txt",
    "nvram_nvda_drv": "nvram_nvda_drv.txt",
    "system_profiler_displays": "system_profiler_displays.txt",
    "system_profiler_thunderbolt": "system_profiler_thunderbolt.txt",
    "journal": "journal.tsv",
    "verify_report": "verify.json",
}
NVIDIA_ROW = re.compile(r"nvidia|nvda|cuda|egpu", re.IGNORECASE)
SECRET_VALUE = re.compile(
    r"(?i)((?:become_)?pass(?:word|wd)?|secret|token|private[_ ]key)(\"?\s*[:=]\s*\"?)([^\s\",}]+)"
)
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL)
REDACTED = "********"


@dataclass
class Member:
    name: str
    data: bytes
    command: str
    exit_code: int | None
    original_size: int
    truncated: bool


def redact(text: str, secrets: list[str]) -> str:
    """The text without the given secrets, `password: x`-like values and private key blocks."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = PRIVATE_KEY.sub(f"-----{REDACTED} PRIVATE KEY-----", text)
    return SECRET_VALUE.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)


def make_member(name: str, text: str, command: str, exit_code: int | None, secrets: list[str],
                keep_tail: bool = False) -> Member:  # fmt: skip
    data = redact(text, secrets).encode("utf-8", errors="replace")
    size = len(data)
    if size > MAX_MEMBER_BYTES:
        data = data[-MAX_MEMBER_BYTES:] if keep_tail else data[:MAX_MEMBER_BYTES]
    return Member(name, data, command, exit_code, size, size > MAX_MEMBER_BYTES)


def probe_members(mac: dict[str, Any], secrets: list[str]) -> list[Member]:
    members = []
    for probe, name in PROBE_MEMBERS.items():
        result = (mac.get("probes") or {}).get(probe, {})
        text = str(result.get("stdout", ""))
        command = str(result.get("cmd", probe))
        if probe == "kextstat":
            text = "\n".join(line for line in text.splitlines() if NVIDIA_ROW.search(line))
            command += "  (rows naming NVIDIA, NVDA, CUDA or eGPU)"
        members.append(make_member(name, text + "\n" if text else "", command, result.get("rc"), secrets))
    return members


def last_run_log(runs_dir: Path, host: str) -> Path | None:
    """The ansible.log of the newest run (provision, plan, rollback) that names the host."""
    if not runs_dir.is_dir():
        return None
    marker = re.compile(rf"\[{re.escape(host)}\]|\b{re.escape(host)}\b")
    for run in sorted((p for p in runs_dir.iterdir() if p.is_dir()), reverse=True):
        log = run / "ansible.log"
        try:
            text = log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if marker.search(text):
            return log
    return None


def log_member(runs_dir: Path, host: str, secrets: list[str]) -> Member:
    log = last_run_log(runs_dir, host)
    if log is None:
        return make_member("last_run/ansible.log", "", f"no run under {runs_dir} names {host}", None, secrets)
    text = log.read_text(encoding="utf-8", errors="replace")
    return make_member("last_run/ansible.log", text, f"read {log} (secrets redacted; the end kept when cut)", 0,
                       secrets, keep_tail=True)  # fmt: skip


def manifest(host: str, members: list[Member], created: str) -> dict[str, Any]:
    return {
        "schema_version": MANIFEST_VERSION,
        "kind": MANIFEST_KIND,
        "host": host,
        "created": created,
        "max_member_bytes": MAX_MEMBER_BYTES,
        "members": [
            {"name": m.name, "size": len(m.data), "sha256": hashlib.sha256(m.data).hexdigest(), "command": m.command,
             "exit_code": m.exit_code, "truncated": m.truncated, "original_size": m.original_size}
            for m in members
        ],
    }  # fmt: skip


def bundle(host: str, members: list[Member], created: str) -> bytes:
    """The tar.gz: `<host>/manifest.json` and every member under `<host>/`, owned by nobody in particular."""
    out = io.BytesIO()
    entries = [*((m.name, m.data) for m in members),
               ("manifest.json", (json.dumps(manifest(host, members, created), indent=1) + "\n").encode())]
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(f"{host}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, int(datetime.now(UTC).timestamp())
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def safe_name(host: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", host) or "host"


def write_bundle(out_dir: Path, host: str, mac: dict[str, Any], runs_dir: Path, secrets: list[str]) -> Path:
    """The host's bundle written atomically as `<DIR>/egpu-diagnose-<host>-<UTC time>.tar.gz`."""
    from egpu_setup.files import write_bytes_atomically

    now = datetime.now(UTC)
    members = [*probe_members(mac, secrets), log_member(runs_dir, host, secrets)]
    path = out_dir / f"egpu-diagnose-{safe_name(host)}-{now.strftime('%Y%m%dT%H%M%SZ')}.tar.gz"
    write_bytes_atomically(path, bundle(safe_name(host), members, now.isoformat()))
    return path
