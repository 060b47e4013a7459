#!/usr/bin/env python3
"""A lab at scale: one rehearsal Mac against a lab of several, in one invocation (issue 12's figures).

    .venv/bin/python bench/lab_scale.py [--hosts 1,8] [--keep] [--json]

--keep leaves the labs' directories and the runs' (ansible.log, report.json, plans.json) in a temporary directory.

For each lab size in --hosts (default 1 and 8) it brings up a lab of bare High Sierra Macs in a temporary directory
(`egpu-setup lab up --hosts N --sip kext-off`, not timed), reached over SSH as every lab is, with an EMPTY
controller cache, and runs `egpu-setup provision -i <lab>/inventory.yml --json` twice: the first run (bare Macs)
and the re-run (nothing to change). The installers come from upstream over HTTP: the bench serves the lab's
mirror directory (<lab>/mirror, the stand-in installers) from a local HTTP server in its own process that counts
the bytes it serves per file, and points the lab at it with `egpu_mirror_url: http://127.0.0.1:PORT/` in
<lab>/group_vars/rehearsal_macs.yml (the mirror is tried before the overlay's file:// URLs).

Printed per lab size and run:
- wall time; the ratio of each lab's first run to the smallest lab's (goal for 8 Macs against 1: <= 2.5x) and of
  each re-run to its first run (goal <= 20%);
- MXNet compiles: the Macs whose report lists a change by the task "Ensure lib/libmxnet.so is built ..." (goal: one
  per lab, once MXNet is built once per build key);
- bytes sent to each Mac and per artifact (the report's `sent`, summed over the Macs), bytes the controller
  received from the Macs (`bytes_received`);
- upstream bytes: what the HTTP server served during the run, against the total of the artifact set (the distinct
  files of the run's plans, plans.json; goal 1.0x: each artifact fetched once per lab, 0 on the re-run);
- libmxnet.so's SHA-256 on each Mac after the runs (goal: one digest for the whole lab);
- the whole machine's CPU seconds during each run (/proc/stat; "all cpu"), and what that CPU takes at least on this
  machine's cores: the simulated Macs run here too, so a lab's first run is bound by it, not by waiting;
- for each larger lab, the simulated Macs' own CPU per Mac (the whole machine's less the controller's, split into a
  part per Mac and a fixed part from the two lab sizes) and the most it could be for the first-run goal to hold on
  this machine's cores (mac_cpu_ceiling has the model): a ceiling below the CPU of what a Mac really runs (pip,
  the installers, the verification) says the goal is out of reach of a lab simulated on this machine;
- the controller's CPU seconds: user + system time of this process and of its children reaped during the run
  (resource.getrusage RUSAGE_SELF + RUSAGE_CHILDREN deltas around the in-process `egpu_setup.cli.main` call):
  egpu-setup itself, the HTTP server's thread, ansible-playbook with its forks and the ssh clients it waited for.
  Not counted: the simulated Macs (their sshd and commands run under the lab's supervisor) and the ssh
  ControlPersist masters, which outlive the run in the background.
Figures are printed, not judged: the exit status is 1 only when a run fails (or a lab does not come up).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from egpu_setup.cli import main
from egpu_setup.output import size_text

FIRST_RUN_GOAL = 2.5  # the largest lab's first run against the smallest's
RERUN_GOAL = 0.20  # a re-run against its first run
MXNET_BUILD_TASK = "Ensure lib/libmxnet.so is built"
LIBRARY = "root/usr/local/egpu-setup/mxnet-1.0.0/lib/libmxnet.so"  # in a lab host's tree
GROUP = "rehearsal_macs"  # the lab inventory's group (egpu_lab.lab.GROUP)


class CountingMirror:
    """The lab's mirror directory over HTTP on 127.0.0.1, counting the bytes served per file name."""

    def __init__(self, directory: Path) -> None:
        self.served: dict[str, int] = {}
        self._lock = threading.Lock()
        handler = functools.partial(_CountingHandler, self, directory=str(directory))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def count(self, name: str, size: int) -> None:
        with self._lock:
            self.served[name] = self.served.get(name, 0) + size

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.served)

    def __enter__(self) -> CountingMirror:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _CountingHandler(SimpleHTTPRequestHandler):
    def __init__(self, mirror: CountingMirror, *args: Any, **kwargs: Any) -> None:
        self.mirror = mirror
        super().__init__(*args, **kwargs)

    def copyfile(self, source: Any, outputfile: Any) -> None:
        name = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
        while chunk := source.read(1 << 16):
            outputfile.write(chunk)
            self.mirror.count(name, len(chunk))

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the bench prints figures, not an access log


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine spent busy so far (Linux /proc/stat: user, nice, system, irq, softirq, steal):
    the controller and the simulated Macs, which share this machine's cores."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = stat.readline().split()[1:]
    busy = sum(int(fields[i]) for i in (0, 1, 2, 5, 6, 7) if i < len(fields))
    return busy / os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def one_run(name: str, lab: Path, mirror: CountingMirror) -> dict[str, Any]:
    """One provision of the whole lab with its figures; raises RuntimeError when the run fails."""
    served_before, cpu_before, started = mirror.snapshot(), cpu_seconds(), time.monotonic()
    machine_before = machine_cpu_seconds()
    code, out, err = cli(["provision", "-i", str(lab / "inventory.yml"), "--json"])
    wall, cpu = time.monotonic() - started, cpu_seconds() - cpu_before
    machine_cpu = machine_cpu_seconds() - machine_before
    if code != 0:
        raise RuntimeError(f"{name} failed (exit {code}):\n{err}{out[-3000:]}")
    report = json.loads(out)
    served = {k: v - served_before.get(k, 0) for k, v in mirror.snapshot().items() if v > served_before.get(k, 0)}
    hosts = report["hosts"]
    per_artifact: dict[str, int] = {}
    for host in hosts.values():
        for file, size in host["sent"].items():
            per_artifact[file] = per_artifact.get(file, 0) + size
    artifact_set = plan_files(Path(report["run_dir"]) / "plans.json", lab / "mirror")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "machine_cpu_s": round(machine_cpu, 2),
        # the least wall time this much CPU takes on this machine's cores: a run near it is CPU-bound
        "cpu_bound_floor_s": round(machine_cpu / (os.cpu_count() or 1), 2),
        "changed": sum(host["changed"] for host in hosts.values()),
        "mxnet_compiles": sum(
            any(c["task"].startswith(MXNET_BUILD_TASK) for c in host["changes"]) for host in hosts.values()
        ),
        "bytes_sent": {host_name: host["bytes_sent"] for host_name, host in hosts.items()},
        "sent_per_artifact": dict(sorted(per_artifact.items())),
        "bytes_received": sum(host.get("bytes_received", 0) for host in hosts.values()),
        "upstream_bytes": sum(served.values()),
        "upstream_per_file": dict(sorted(served.items())),
        "artifact_set_bytes": sum(artifact_set.values()),
        "log": report["log"],
    }


def plan_files(plans_json: Path, mirror: Path) -> dict[str, int]:
    """The artifact set of the run: each distinct file of its plans, with its size in the mirror."""
    plans = json.loads(plans_json.read_text(encoding="utf-8")).get("plans", {}) if plans_json.is_file() else {}
    names = {
        artifact["filename"]
        for entry in plans.values()
        for artifact in ((entry.get("plan") or {}).get("artifacts") or {}).values()
        if isinstance(artifact, dict) and artifact.get("filename")
    }
    return {name: (mirror / name).stat().st_size for name in sorted(names) if (mirror / name).is_file()}


def one_lab(hosts: int, base: Path) -> dict[str, Any]:
    """A lab of `hosts` Macs with an empty controller cache and its own counting mirror: the first run, the re-run."""
    lab = base / f"lab{hosts}"
    os.environ["XDG_DATA_HOME"] = str(base / f"data{hosts}")  # runs dirs, per lab size
    os.environ["XDG_CACHE_HOME"] = str(base / f"cache{hosts}")  # empty: nothing cached from the other lab
    started = time.monotonic()
    code, _, err = cli(["lab", "up", "--dir", str(lab), "--hosts", str(hosts), "--sip", "kext-off"])
    if code != 0:
        raise RuntimeError(f"lab up --hosts {hosts} failed ({code}):\n{err}")
    figures: dict[str, Any] = {"hosts": hosts, "lab_up_s": round(time.monotonic() - started, 2)}
    shutil.rmtree(lab / "cache", ignore_errors=True)  # the controller's cache for this lab (egpu_cache_dir): empty
    try:
        with CountingMirror(lab / "mirror") as mirror:
            vars_file = lab / "group_vars" / f"{GROUP}.yml"
            vars_file.write_text(
                f"# bench/lab_scale.py: installers from its HTTP mirror\negpu_mirror_url: {mirror.url}\n"
            )
            for name in ("first_run", "re_run"):
                figures[name] = one_run(name, lab, mirror)
            figures["libmxnet_sha256"] = library_digests(lab)
    finally:
        cli(["lab", "down", "--dir", str(lab)])  # its Macs' sshd stop before the next lab comes up
    return figures


def library_digests(lab: Path) -> dict[str, str]:
    """The SHA-256 of each Mac's installed libmxnet.so (read from the lab's host trees)."""
    found = {}
    for host in sorted(p.name for p in (lab / "hosts").iterdir() if p.is_dir()):
        library = lab / "hosts" / host / LIBRARY
        found[host] = hashlib.sha256(library.read_bytes()).hexdigest() if library.is_file() else "missing"
    return found


def ratios(labs: list[dict[str, Any]]) -> dict[str, Any]:
    smallest = labs[0]
    return {
        "first_run_vs_smallest": {
            str(lab["hosts"]): round(lab["first_run"]["wall_s"] / smallest["first_run"]["wall_s"], 3) for lab in labs
        },
        "re_run_vs_first": {
            str(lab["hosts"]): round(lab["re_run"]["wall_s"] / lab["first_run"]["wall_s"], 3) for lab in labs
        },
        "upstream_vs_artifact_set": {
            str(lab["hosts"]): round(
                lab["first_run"]["upstream_bytes"] / max(lab["first_run"]["artifact_set_bytes"], 1), 3
            )
            for lab in labs
        },
        "mac_cpu_ceiling": {
            str(lab["hosts"]): mac_cpu_ceiling(smallest, lab, os.cpu_count() or 1) for lab in labs[1:]
        },
        "goals": {
            "first_run_vs_smallest": FIRST_RUN_GOAL,
            "re_run_vs_first": RERUN_GOAL,
            "upstream_vs_artifact_set": 1.0,
        },
    }


def mac_cpu_ceiling(smallest: dict[str, Any], lab: dict[str, Any], cores: int) -> dict[str, float] | None:
    """What the Macs' own CPU per Mac is, and at most could be for `lab`'s first run to meet FIRST_RUN_GOAL against
    `smallest`'s on this machine's cores; None when the goal does not depend on it here.

    The model: the first runs' CPU (whole machine, controller) splits into a part per Mac and a fixed part (the one
    build, the controller's start), from the two lab sizes. The larger lab cannot take less wall time than its CPU
    over the cores; the smallest lab's Macs run one step at a time, so its wall time moves second for second with
    its Macs' CPU. With m' the Macs' own CPU per Mac, the goal needs
        (controller_n + fixed_mac + n * m') / cores <= goal * (wall_1 - n1 * (m - m')).
    """
    n1, n = smallest["hosts"], lab["hosts"]
    if n <= n1:
        return None
    first1, first = smallest["first_run"], lab["first_run"]
    mac1, mac = first1["machine_cpu_s"] - first1["cpu_s"], first["machine_cpu_s"] - first["cpu_s"]
    per_mac = (mac - mac1) / (n - n1)
    fixed_mac = mac1 - n1 * per_mac
    room = n / cores - FIRST_RUN_GOAL * n1
    if room <= 0:
        return None
    ceiling = (FIRST_RUN_GOAL * (first1["wall_s"] - n1 * per_mac) - (first["cpu_s"] + fixed_mac) / cores) / room
    return {
        "mac_cpu_per_mac_s": round(per_mac, 2),
        "mac_cpu_fixed_s": round(fixed_mac, 2),
        "controller_cpu_per_mac_s": round((first["cpu_s"] - first1["cpu_s"]) / (n - n1), 2),
        "mac_cpu_per_mac_ceiling_s": round(ceiling, 2),
    }


def print_lab(lab: dict[str, Any]) -> None:
    print(f"== {lab['hosts']} Mac(s) (lab up {lab['lab_up_s']:.1f} s, not timed) ==")
    columns = (
        ("wall", 8), ("cpu", 8), ("all cpu", 8), ("changed", 8), ("mxnet compiles", 15), ("upstream", 24), ("sent", 10)
    )
    print(f"{'':10} " + " ".join(f"{name:>{width}}" for name, width in columns) + f" {'received':>10}")
    for name, label in (("first_run", "first run"), ("re_run", "re-run")):
        run = lab[name]
        upstream = f"{size_text(run['upstream_bytes'])} of {size_text(run['artifact_set_bytes'])}"
        print(
            f"{label:10} {run['wall_s']:6.1f} s {run['cpu_s']:6.1f} s {run['machine_cpu_s']:6.1f} s "
            f"{run['changed']:8d} {run['mxnet_compiles']:15d} "
            f"{upstream:>24} {size_text(sum(run['bytes_sent'].values())):>10} {size_text(run['bytes_received']):>10}"
        )
    first = lab["first_run"]
    print(
        f"first run's CPU: {first['machine_cpu_s']:.1f} s on the whole machine (controller {first['cpu_s']:.1f} s), "
        f"{first['machine_cpu_s'] / lab['hosts']:.1f} s per Mac; on {os.cpu_count()} cores it needs at least "
        f"{first['cpu_bound_floor_s']:.1f} s"
    )
    print("sent per Mac, first run:   " + ", ".join(f"{h} {size_text(b)}" for h, b in first["bytes_sent"].items()))
    print(
        "sent per Mac, re-run:      " + ", ".join(f"{h} {size_text(b)}" for h, b in lab["re_run"]["bytes_sent"].items())
    )
    digests = lab["libmxnet_sha256"]
    distinct = sorted(set(digests.values()))
    print(f"libmxnet.so: {len(distinct)} distinct SHA-256 on {len(digests)} Mac(s): {', '.join(distinct)}")
    print(f"  {'first run, per file':54} {'to Macs':>10} {'upstream':>10}")
    sent, upstream = first["sent_per_artifact"], first["upstream_per_file"]
    for file in sorted(set(sent) | set(upstream)):
        print(f"  {file:54} {size_text(sent.get(file, 0)):>10} {size_text(upstream.get(file, 0)):>10}")


def print_ratios(labs: list[dict[str, Any]], figures: dict[str, Any]) -> None:
    smallest = labs[0]["hosts"]
    for lab in labs[1:]:
        ratio = figures["first_run_vs_smallest"][str(lab["hosts"])]
        print(f"first run, {lab['hosts']} Macs vs {smallest}:  {ratio:6.2f}x  (goal <= {FIRST_RUN_GOAL}x for 8 vs 1)")
        ceiling = figures["mac_cpu_ceiling"].get(str(lab["hosts"]))
        if ceiling:
            print(
                f"  the simulated Macs' own CPU: {ceiling['mac_cpu_per_mac_s']:.1f} s per Mac "
                f"(+ {ceiling['mac_cpu_fixed_s']:.1f} s once), the controller's "
                f"{ceiling['controller_cpu_per_mac_s']:.1f} s per Mac; on {os.cpu_count()} cores the goal needs the "
                "Macs' own CPU at most "
                f"{ceiling['mac_cpu_per_mac_ceiling_s']:.1f} s per Mac (mac_cpu_ceiling)"
            )
    cells = ", ".join(f"{h} Mac(s) {r:.1%}" for h, r in figures["re_run_vs_first"].items())
    print(f"re-run / first run:        {cells}  (goal <= {RERUN_GOAL:.0%})")
    cells = ", ".join(f"{h} Mac(s) {r:.2f}x" for h, r in figures["upstream_vs_artifact_set"].items())
    print(f"upstream / artifact set:   {cells}  (goal 1.0x: each artifact fetched once per lab)")


def main_bench() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="1,8", help="lab sizes, comma-separated, smallest first (default 1,8)")
    parser.add_argument("--keep", action="store_true", help="keep the labs' directories and the runs'")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    try:
        sizes = sorted({int(text) for text in args.hosts.split(",")})
    except ValueError:
        parser.error(f"--hosts {args.hosts!r}: give lab sizes such as 1,8")
    if not sizes or sizes[0] < 1:
        parser.error("--hosts: each lab size is at least 1")
    base = Path(tempfile.mkdtemp(prefix="egpu-bench-scale-"))
    labs: list[dict[str, Any]] = []
    try:
        for hosts in sizes:
            labs.append(one_lab(hosts, base))
            if not args.json:
                print_lab(labs[-1])
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept: {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
    figures = ratios(labs)
    if args.json:
        print(json.dumps({"labs": labs, **figures}, indent=2))
    else:
        print_ratios(labs, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main_bench())
