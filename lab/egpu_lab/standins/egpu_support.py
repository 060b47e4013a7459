"""Stand-ins for the NVDAEGPUSupport packages egpu.io published, one per macOS build, each in a zip.

What the real ones are (facts table `facts/egpu_support.yaml`): a zip (learex-zz/macOS-eGPU's list gives its name,
URL and SHA-512) holding `<packageName>.pkg` at its top level; the package is a product archive (productbuild of
pedroresende/NVIDIAEGPUSupport package/build.sh) whose Distribution has a `volume-check`: `allowed-os-versions`
min 10.13 and `required-bundles all="true"` naming NVDAStartupWeb, NVDAResmanWeb and NVDAResmanTeslaWeb at the kext
version of the web driver the package was made for, and IONDRVSupport at 517.17, each `search="false"`; one
component lu.yifan.NVDAEGPUSupport installing /Library/Extensions/NVDAEGPUSupport.kext (bundle id
lu.yifan.NVDAEGPUSupport; personality NVDAStartup -> com.nvidia.NVDAStartupWeb with IOPCITunnelCompatible and
NVDARequiredOS = the package's build); a preinstall that refuses without /Library/Extensions/NVDAStartupWeb.kext and
asks with an AppleScript alert when `csrutil status` shows neither "System Integrity Protection status: disabled"
nor "Kext Signing: disabled" (exiting with the alert's status), and a postinstall `nvram nvda_drv=1` and
`touch /System/Library/Extensions`.

Built for the package versions whose required kext version the facts table has (`STANDIN_VERSIONS`): 3, 4, 4-SU
from the repository's package.dist, and 6, whose value is a placeholder shared with the 387.10.10.10.25.156 web
driver stand-in (so the v6 stand-in requires exactly what that driver stand-in carries).

Divergences (docs/rehearsal.md): the scripts are the lab's own, in Perl and sh with the same tests and effects (the
alert is `osascript -e 'display alert ...'` without the `su $USER -c` around it: the host has no su; over SSH both
fail the same way); the receipt version is the package's matrix version (the real one is unconfirmed); the zip holds
only the package (the real ones may hold more, e.g. __MACOSX/ entries).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from egpu_lab import facts, kexts
from egpu_lab.macos import xar_pkg
from egpu_lab.standins import common
from egpu_lab.standins.webdriver import nvda_startup_personality

STANDIN_VERSIONS = ("3", "4", "4-SU", "6")
ZIP_TIME = (2018, 1, 30, 12, 0, 0)  # fixed, so the zip (and its digests in the lab's lock) never changes

# The tests and effects of the real preinstall (facts: egpu_support.preinstall_*), written for the rehearsal host's
# perl, which has no module tree (no `use strict`).
PREINSTALL = r"""#!/usr/bin/perl
# Stand-in of NVDAEGPUSupport's preinstall: refuse without the NVIDIA web driver; warn with an alert when neither
# SIP nor kext signing is off, and stop when the alert is not answered with Continue.
print "Starting...\n";
if (! -e '/Library/Extensions/NVDAStartupWeb.kext') {
    system('/usr/bin/osascript', '-e', 'display alert "NVIDIA Web drivers are not installed." as critical '
        . 'message "Install the NVIDIA Web drivers first." buttons {"Cancel"} default button "Cancel"');
    exit 1;
}
my $status = `/usr/bin/csrutil status`;
if ($status !~ /System Integrity Protection status: disabled|Kext Signing: disabled/) {
    my $r = system('/usr/bin/osascript', '-e', 'display alert "SIP is currently enabled." as critical message '
        . '"Run csrutil enable --without kext from the Recovery OS, or the driver will not load." '
        . 'buttons {"Cancel", "Continue"} default button "Continue" cancel button "Cancel"');
    $r >>= 8;
    exit $r if $r != 0;
}
print "Done\n";
exit 0;
"""

# Like the real postinstall, whose perl `system` calls ignore failures: touching /System/Library/Extensions fails
# where SIP protects /System, and the script still ends well.
POSTINSTALL = """#!/bin/sh
# Stand-in of NVDAEGPUSupport's postinstall: select the web driver at boot, ask for new kext caches.
/usr/sbin/nvram nvda_drv=1
/usr/bin/touch /System/Library/Extensions 2>/dev/null
exit 0
"""


def required_kext_version(version: str) -> str:
    """The CFBundleShortVersionString package `version` requires of the NVIDIA kexts (facts table)."""
    if version == "6":
        return str(facts.value("egpu_support", "required_web_kext_version_6"))
    known = facts.value("egpu_support", "required_web_kext_versions")
    if version not in known:
        raise KeyError(f"the facts table has no required kext version of NVDAEGPUSupport {version}")
    return str(known[version])


def volume_check_xml(version: str) -> str:
    """The package's `<volume-check>`, in the form of pedroresende/NVIDIAEGPUSupport's package.dist."""
    web = facts.value("egpu_support", "required_web_kexts")
    iondrv = facts.value("egpu_support", "required_iondrv")
    every = "true" if facts.value("egpu_support", "required_bundles_all") else "false"
    wanted = required_kext_version(version)
    lines = [
        "<volume-check>",
        "    <allowed-os-versions>",
        f'        <os-version min="{facts.value("egpu_support", "os_versions_min")}"/>',
        "    </allowed-os-versions>",
        f'    <required-bundles all="{every}">',
    ]
    for name in web:
        lines.append(
            f'        <bundle CFBundleShortVersionString="{wanted}" id="{web[name]["id"]}" path="{web[name]["path"]}"'
            ' search="false"/>'
        )
    lines.append(
        f'        <bundle CFBundleShortVersionString="{iondrv["version"]}" id="{iondrv["id"]}" path="{iondrv["path"]}"'
        ' search="false"/>'
    )
    lines += ["    </required-bundles>", "</volume-check>"]
    return "\n".join(lines)


def build_enabler_pkg(out: Path, work: Path, version: str, with_volume_check: bool = True) -> Path:
    """NVDAEGPUSupport package `version` (a key of the facts table's `enablers`), made for its first build.

    `with_volume_check=False` leaves the Distribution's volume-check out (a package someone stripped, for tests of
    the scripts behind it).
    """
    row = facts.value("egpu_support", "enablers")[version]
    staging = work / f"egpu-support-{version}"
    personality = nvda_startup_personality(row["builds"][0], tunnel=True)
    kexts.make_kext(
        staging / "Library/Extensions/NVDAEGPUSupport.kext",
        facts.value("egpu_support", "bundle_id"),
        facts.value("egpu_support", "bundle_short_version"),
        extra={"IOKitPersonalities": {"NVDAStartup": personality},
               "CFBundleVersion": facts.value("egpu_support", "bundle_version")},
    )  # fmt: skip
    scripts = {"preinstall": PREINSTALL.encode(), "postinstall": POSTINSTALL.encode()}
    comp = common.component(
        staging, facts.value("egpu_support", "package_id"), version, "NVDAEGPUSupportDriver.pkg", scripts=scripts
    )
    dist = xar_pkg.distribution_xml(
        "NVIDIA EGPU Support Driver",
        [comp],
        restart=True,
        volume_check=volume_check_xml(version) if with_volume_check else None,
    )
    return xar_pkg.write_product_pkg(out, dist, [comp])


def build_enabler_zip(out_dir: Path, work: Path, version: str) -> Path:
    """The zip egpu.io serves for package `version`, under its published name, the package at its top level."""
    row = facts.value("egpu_support", "enablers")[version]
    (work / f"enabler-{version}").mkdir(parents=True, exist_ok=True)
    pkg = build_enabler_pkg(work / f"enabler-{version}" / row["package"], work, version)
    out = Path(out_dir) / row["zip"]
    member = zipfile.ZipInfo(row["package"], date_time=ZIP_TIME)
    member.external_attr = 0o644 << 16
    member.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(member, pkg.read_bytes())
    return out
