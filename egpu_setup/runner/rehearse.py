"""`--rehearse`: the one-host rehearsal lab that provision, plan and rollback run on instead of an inventory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from egpu_setup import paths
from egpu_setup.errors import EgpuError
from egpu_setup.output import Context

# A bare 10.13.2 (17C88) Mac with a GTX 1080 eGPU, as its owner prepared it: kext signing turned off from the
# Recovery OS (`csrutil enable --without kext`), nothing else installed.
REHEARSAL_SIP = "kext-off"


def rehearsal_inventory(lab_dir: Path | None, ctx: Context, *, bring_up: bool) -> Path:
    """The inventory of the lab at `lab_dir` (default: the default lab), bringing up a one-host lab when none is
    there and `bring_up` says so (provision, plan); rollback needs a lab that exists."""
    from egpu_setup import lab_loader

    lab_module = lab_loader.load("lab")
    Lab, LabOptions = lab_module.Lab, lab_module.LabOptions
    lab = Lab(lab_dir or paths.default_lab_dir())
    if not lab.exists():
        if not bring_up:
            if lab.dir.exists():
                lab.require()  # names a directory that is not a lab as such
            raise EgpuError(
                f"no rehearsal lab at {lab.dir}",
                fix="`egpu-setup provision --rehearse` brings one up and provisions it",
            )
        lab_loader.load("marker").usable_for_up(lab.dir)  # refused before the note says it starts
        ctx.note(f"rehearsal: bringing up a one-host lab at {lab.dir} (a bare 10.13.2 17C88 Mac with a GTX 1080)")
        lab.up(LabOptions(hosts=1, sip=REHEARSAL_SIP))
    else:
        ctx.note(f"rehearsal: using the lab at {lab.dir}")
        lab.serve()  # its Macs' SSH servers, when nothing runs them any more (a reboot of the controller)
    if bring_up and lab.overlay.is_file():
        fill_cache(lab, ctx)
    return lab.inventory


def fill_cache(lab: Any, ctx: Context) -> None:
    """What `egpu-setup cache fetch` does on a controller, for the lab's build from the lab's mirror (file:// URLs
    on this machine): `plan` downloads nothing, so its installers must be in the lab's cache before it runs."""
    from egpu_setup.runner.plans import PlanInputs, resolve_saving_lock

    build = lab.options().build
    ctx.note(f"rehearsal: the lab's installers for {build} into its cache {lab.cache} (as `cache fetch` does)")
    inputs = PlanInputs(build=build, overlay=str(lab.overlay), cache_dir=str(lab.cache), lock_file=str(lab.lock_file))
    resolve_saving_lock(inputs, fetch=True)
