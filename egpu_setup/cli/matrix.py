"""`egpu-setup matrix`: show the compatibility matrix, or resolve one Mac's build into a plan."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from egpu_setup.cli.arg_types import name_arg, path_arg
from egpu_setup.errors import EgpuError, ExitCode
from egpu_setup.output import Context

if TYPE_CHECKING:  # only for annotations: the matrix package (and PyYAML) load inside `run`
    from egpu_setup.matrix import Matrix, Resolution


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "matrix",
        help="show the compatibility matrix, or the plan for one macOS build",
        description=(
            "Without --build: every High Sierra build, driver, artifact, GPU and profile the matrix knows. "
            "With --build: what the profile installs on that build (artifacts, NVDARequiredOS patch, CUDA arch)."
        ),
    )
    parser.add_argument("--build", metavar="B", help="macOS build number, as `sw_vers -buildVersion` prints (17C88)")
    parser.add_argument(
        "--profile", metavar="P", type=name_arg, default=None, help="named stack to resolve (default: default)"
    )
    parser.add_argument("--gpu", metavar="G", help="GPU key (gtx1080) or PCI device id (0x1b80); default: profile's")
    parser.add_argument("--compute-capability", metavar="X.Y", help="target compute capability instead of --gpu")
    parser.add_argument(
        "--allow-nearest",
        action="store_true",
        help="for a 10.13 build not in the matrix, use the nearest build of the same update (untested; warns)",
    )
    parser.add_argument(
        "--overlay", metavar="FILE", type=path_arg, help="matrix overlay YAML (e.g. a lab's mirror URLs)"
    )
    parser.add_argument(
        "--matrix", metavar="FILE", type=path_arg, help="another matrix file instead of the packaged one"
    )
    parser.add_argument("--json", action="store_true", help="print JSON on stdout instead of tables")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from egpu_setup.matrix import load_matrix

    matrix = load_matrix(overlay=args.overlay, path=args.matrix)
    if args.build is None:
        selectors = [flag for flag, value in (("--profile", args.profile), ("--gpu", args.gpu),
                     ("--compute-capability", args.compute_capability)) if value is not None]  # fmt: skip
        if args.allow_nearest:
            selectors.append("--allow-nearest")
        if selectors:
            raise EgpuError(
                f"{', '.join(selectors)} select(s) a resolution, which needs a macOS build",
                fix="add --build B (on the Mac: sw_vers -buildVersion)",
                exit_code=ExitCode.USAGE,
            )
        if args.json:
            ctx.emit_json("matrix", matrix.to_dict())
        else:
            _print_matrix(ctx, matrix)
        return ExitCode.OK
    plan = matrix.resolve(
        args.build,
        profile=args.profile or "default",
        gpu=args.gpu,
        compute_capability=args.compute_capability,
        allow_nearest=args.allow_nearest,
    )
    for warning in plan.warnings:
        ctx.note(f"warning: {warning}")
    if args.json:
        ctx.emit_json("resolution", plan.to_dict())
    else:
        _print_resolution(ctx, plan)
    return ExitCode.OK


def _short(digest: str | None) -> str:
    return f"{digest[:12]}…" if digest else "-"


def _print_matrix(ctx: Context, matrix: Matrix) -> None:
    from rich.table import Table

    console = ctx.console()
    builds = Table(title="macOS High Sierra builds", title_justify="left")
    for column in ("build", "version", "web driver(s)", "confidence", "note"):
        builds.add_column(column)
    for entry in matrix.builds.values():
        drivers = ", ".join(d.removeprefix("378.10.10.10.").removeprefix("387.10.10.10.") for d in entry.webdrivers)
        major = entry.webdrivers[0].split(".")[0]
        builds.add_row(entry.build, entry.product_version, f"{major}…{drivers}", entry.confidence, entry.note or "")
    console.print(builds)

    artifacts = Table(title="Artifacts", title_justify="left")
    for column in ("id", "version", "for", "sha256", "url", "conf."):
        artifacts.add_column(column, overflow="fold")
    for artifact in matrix.artifacts.values():
        serves = artifact.built_for or ""
        if artifact.id == "cuda_driver":
            serves = f"web {artifact.webdriver_major}.x, CUDA {'/'.join(artifact.cuda)}"
        elif artifact.cuda:
            serves = f"CUDA {'/'.join(artifact.cuda)}"
        elif artifact.builds:
            serves = ", ".join(artifact.builds)
        url = artifact.url or "by hand: `egpu-setup cache add`"
        digest = _short(artifact.sha256)
        if not artifact.sha256 and artifact.sha512:
            digest = f"(512) {_short(artifact.sha512)}"
        artifacts.add_row(artifact.id, artifact.version, serves, digest, url, artifact.confidence)
    console.print(artifacts)

    profiles = Table(title="Profiles", title_justify="left")
    profiles.add_column("artifact")
    for name in matrix.profiles:
        profiles.add_column(name)
    for artifact_id in ("webdriver", "egpu_support", "cuda_driver", "cuda_toolkit", "cudnn", "clt", "python3",
                        "mxnet_source", "numpy", "gpu"):  # fmt: skip
        row = [p.gpu if artifact_id == "gpu" else p.picks[artifact_id] for p in matrix.profiles.values()]
        profiles.add_row(artifact_id, *row)
    console.print(profiles)

    gpus = Table(title="GPUs", title_justify="left")
    for column in ("key", "name", "PCI id", "CC", "cores", "boost MHz", "FP32 GFLOPS", "GB", "GB/s", "conf."):
        gpus.add_column(column)
    for gpu in matrix.gpus.values():
        data = gpu.to_dict()
        gpus.add_row(*(str(data[k]) for k in ("key", "name", "pci_device_id", "compute_capability", "cuda_cores",
                     "boost_clock_mhz", "fp32_gflops", "memory_gb", "memory_bandwidth_gbs", "confidence")))  # fmt: skip
    console.print(gpus)
    for link in matrix.links.values():
        console.print(f"link {link.key}: {link.fields['name']}, {link.fields['pcie']}, {link.bandwidth_gbs} GB/s")


def _print_resolution(ctx: Context, plan: Resolution) -> None:
    from rich.table import Table

    console = ctx.console()
    title = f"Plan for {plan.build} (macOS {plan.product_version}), profile {plan.profile}"
    table = Table(title=title, title_justify="left")
    for column in ("artifact", "version", "file", "sha256"):
        table.add_column(column, overflow="fold")
    sources = []
    for artifact_id, artifact in plan.artifacts.items():
        if artifact is None:
            table.add_row(artifact_id, "-", "not needed on this build", "")
            continue
        table.add_row(artifact_id, artifact.version, artifact.filename, _short(artifact.sha256))
        sources.append(f"  {artifact_id}: {artifact.url or 'by hand, then `egpu-setup cache add FILE`'}")
    console.print(table)
    console.print("Sources:\n" + "\n".join(sources), soft_wrap=True)  # URLs whole, so they can be copied
    patch = plan.webdriver_patch
    if patch["required"]:
        console.print(f"NVDARequiredOS: patch {patch['from']} -> {patch['to']} (the driver is built for another build)")
    else:
        console.print(f"NVDARequiredOS: {patch['from']} matches, no patch")
    gpu = plan.gpu.get("name") or "GPU"
    console.print(
        f"CUDA arch: {', '.join(plan.cuda_arch)} for {gpu} (CUDA_ARCH := {plan.cuda_arch_flags})", soft_wrap=True
    )
    for warning in plan.warnings:
        console.print(f"[bold red]warning:[/] {warning}", soft_wrap=True)
