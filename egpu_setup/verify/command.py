"""`egpu-setup verify`: check the GPU stack with numbers (driver, CUDA, cuDNN, link, SGEMM, MXNet).

Runs on the machine itself, or on a Mac as the gpu_verify role's payload
(`/usr/local/egpu-setup/venv/bin/python -m egpu_setup.verify --json FILE`: no CLI on a Mac), where rich may be missing:
the table then falls back to plain text.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from egpu_setup.errors import EgpuError, ExitCode
from egpu_setup.files import check_output, write_text_atomically
from egpu_setup.output import Context
from egpu_setup.paths import require_directory


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check the GPU, CUDA, cuDNN, the link, and MXNet on this machine, with figures",
        description=(
            "Check the NVIDIA stack of this machine: gpu.present, cuda.driver, cuda.runtime, cudnn, "
            "link.bandwidth, gpu.compute, mxnet.*. Exit 0 when all pass, 1 when a check fails, "
            "3 when there is no NVIDIA GPU or driver (unless --cpu-ok)."
        ),
    )
    parser.add_argument("--json", metavar="FILE", help="write the JSON report to FILE ('-': stdout, table on stderr)")
    parser.add_argument(
        "--cpu-ok", action="store_true", help="without a GPU, run the MXNet checks on the CPU and exit 0 if they pass"
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer iterations")
    parser.add_argument(
        "--profile", help="judge versions against this profile (default: 'default' on macOS, none on Linux)"
    )
    parser.add_argument("--mxnet-python", metavar="PATH", help="the Python that imports MXNet (default: this one)")
    parser.add_argument("--mxnet-lib", metavar="PATH", help="libmxnet.so for mxnet.libraries (default: found)")
    parser.set_defaults(run=run)


def _check_output_path(value: str | None) -> Path | None:
    """--json FILE checked before the checks run: a link, FIFO or directory there is refused, nothing written."""
    if value is None or value == "-":
        return None
    path = Path(value)
    if path.is_dir() and not path.is_symlink():
        raise EgpuError(f"--json {value}: is a directory", fix="name a file, e.g. --json verify.json")
    if not path.parent.is_dir():
        require_directory(path.parent, f"--json {value}")  # names a file standing where a directory should be
    check_output(path, "--json")
    return path


def _check_input_paths(args: argparse.Namespace) -> None:
    """--mxnet-python and --mxnet-lib name files that must be there: a typo must not turn a check into a skip."""
    if args.mxnet_python is not None:
        python = Path(args.mxnet_python)
        if not python.is_file() or not os.access(python, os.X_OK):
            raise EgpuError(
                f"--mxnet-python {args.mxnet_python}: not an executable file",
                fix="give the Python that imports MXNet, e.g. /usr/local/egpu-setup/venv/bin/python",
            )
    if args.mxnet_lib is not None and not Path(args.mxnet_lib).is_file():
        raise EgpuError(
            f"--mxnet-lib {args.mxnet_lib}: no such file",
            fix="give the path of libmxnet.so (in MXNet's lib/ directory), or leave --mxnet-lib out to find it",
        )


def run(args: argparse.Namespace, ctx: Context) -> int:
    from egpu_setup.verify.backend import SystemBackend
    from egpu_setup.verify.expectations import UnknownProfile, expectations_for, known_profiles
    from egpu_setup.verify.render import render_rich, render_text
    from egpu_setup.verify.result import Check, Status
    from egpu_setup.verify.state import Options
    from egpu_setup.verify.suite import run_suite

    output = _check_output_path(args.json)
    _check_input_paths(args)
    backend = SystemBackend(mxnet_python=args.mxnet_python)
    try:
        expect = expectations_for(args.profile, backend.host().platform)
    except UnknownProfile as exc:
        raise EgpuError(f"unknown profile {exc}", fix=f"use one of: {', '.join(known_profiles())}") from exc
    options = Options(quick=args.quick, cpu_ok=args.cpu_ok, mxnet_library=args.mxnet_lib)

    def progress(check: Check) -> None:
        ctx.note(f"verify: {check.name}: {check.status.value} ({check.duration_s:.1f} s)")

    report = run_suite(backend, expect, options, progress)
    if report.no_gpu is not None and args.cpu_ok:
        ctx.note(f"no NVIDIA GPU or driver ({report.no_gpu}): the MXNet checks ran on the CPU (--cpu-ok)")

    table_stream = "stderr" if args.json == "-" else "stdout"
    try:
        render_rich(report, ctx.console(table_stream))
    except ImportError:  # the target's venv has no rich
        render_text(report, getattr(ctx, table_stream))
    if args.json == "-":
        ctx.emit_json("verify", report.to_dict())
    elif output is not None:
        try:
            write_text_atomically(output, report.to_json(), "--json")  # the role slurps it: never half a report
        except OSError as exc:
            raise EgpuError(f"cannot write {output}: {exc}") from exc

    if report.exit_code == ExitCode.NO_GPU:
        ctx.error(
            f"no NVIDIA GPU or driver found: {report.no_gpu}",
            fix="connect and power the eGPU and install its driver (egpu-setup provision); "
            "--cpu-ok runs the MXNet checks on the CPU instead",
        )
    elif report.exit_code == ExitCode.CHECK_FAILED:
        names = ", ".join(c.name for c in report.checks if c.status is Status.FAIL)
        ctx.error(f"verification failed: {names}")
    return int(report.exit_code)
