"""Stand-in for NVIDIA's web driver package (the NVDAEGPUSupport packages are in egpu_support.py).

What the real WebDriver-<ver>.pkg holds, from public sources (high-sierra-egpu.md; vulgo/webdriver.sh,
mayankk2308/purge-wrangler, Benjamin-Dobell/nvidia-update, Homebrew's nvidia-web-driver cask uninstall stanza):
a product archive titled "NVIDIA Web Driver <version>" whose component directory matches `NVWebDrivers`
(purge-wrangler finds it with `grep -i NVWebDrivers`), receipt id com.nvidia.web-driver, a Distribution whose
installation-check refuses any build but the one it was built for (`validateSoftware` comparing
`system.version.ProductBuildVersion` with a literal), and a payload with /Library/Extensions/NVDAStartupWeb.kext
(IOKitPersonalities > NVDAStartup > NVDARequiredOS = that build), NVDAResmanWeb.kext and NVDAResmanTeslaWeb.kext
(the three NVDAEGPUSupport's required-bundles name), /Library/Extensions/GeForceWeb.kext (driver version in
CFBundleGetInfoString), /Library/GPUBundles/GeForce*Web*.bundle and the NVIDIA Driver Manager prefPane with its
uninstaller (Contents/MacOS/NVIDIA Web Driver Uninstaller.app/Contents/Resources/NVUninstall.pkg), the launch agent
com.nvidia.nvagent and the launch daemon com.nvidia.nvroothelper (facts: webdriver.update_agent, root_helper; their
keys are not public: Label and RunAtLoad only). The kexts carry
NVIDIA's own 10.x.y versions, not the driver's (facts table webdriver.kexts, kext_short_versions, kextstat_versions:
CFBundleShortVersionString is what the enablers' required-bundles compare, CFBundleVersion what kextstat shows);
the values of 387.10.10.10.25.156 are unconfirmed placeholders shared with the v6 enabler stand-in.

Stand-in choices (documented in docs/rehearsal.md): the postinstall sets `nvda_drv=1%00` (the value NVIDIA's
installers leave, per macos-commands.md) and touches /Library/Extensions; NVIDIA's exact script is unconfirmed.
Kexts are sealed with the lab's stand-in code signature (rehearsal.kexts.seal), so patching Info.plist breaks it.
"""

from __future__ import annotations

from pathlib import Path

from egpu_lab import facts, kexts
from egpu_lab.macos import xar_pkg
from egpu_lab.standins import common

RECEIPT_ID = facts.value("webdriver", "receipt_id")
PREFPANE = "Library/PreferencePanes/NVIDIA Driver Manager.prefPane"
UNINSTALLER = f"{PREFPANE}/Contents/MacOS/NVIDIA Web Driver Uninstaller.app/Contents/Resources/NVUninstall.pkg"

# The installation-check idiom of NVIDIA's Distribution files (see distribution_check). compareBuildVersions is
# NVIDIA's helper; the stand-in's body only tells equal from different, which is all validateSoftware uses.
CHECK_SCRIPT = """\
function InstallationCheck() {{
    if (!validateSoftware()) return false;
    return true;
}}

function compareBuildVersions(a, b) {{
    if (a == b) return 0;
    return 1;
}}

function validateSoftware() {{
    var supportedOSVer = "{product_version}";
    var supportedOSBuildVer = "{build}";
    var targetBuild = system.version.ProductBuildVersion;
    var result = compareBuildVersions(targetBuild, supportedOSBuildVer);
    if (result != 0) {{
        my.result.title = "Unsupported macOS version";
        my.result.message = "This NVIDIA Web Driver requires macOS " + supportedOSVer
            + " (" + supportedOSBuildVer + ").";
        my.result.type = 'Fatal';
        return false;
    }}
    return true;
}}
"""

POSTINSTALL = """\
#!/bin/sh
# Stand-in of the web driver's postinstall: select the web driver at next boot and ask kextd for new caches.
/usr/sbin/nvram nvda_drv=1%00
/usr/bin/touch "$3/Library/Extensions"
exit 0
"""

UNINSTALL_POSTINSTALL = """\
#!/bin/sh
# Stand-in of NVUninstall.pkg: remove the web driver's files and receipt, fall back to Apple's driver.
/bin/rm -rf "$3/Library/Extensions/NVDAStartupWeb.kext" "$3/Library/Extensions/GeForceWeb.kext" \\
    "$3/Library/Extensions/NVDAResmanWeb.kext" "$3/Library/Extensions/NVDAResmanTeslaWeb.kext" \\
    "$3/Library/GPUBundles/GeForceGLDriverWeb.bundle" "$3/Library/PreferencePanes/NVIDIA Driver Manager.prefPane"
/usr/sbin/pkgutil --forget com.nvidia.web-driver >/dev/null 2>&1
/usr/sbin/nvram -d nvda_drv
/usr/bin/touch "$3/Library/Extensions"
exit 0
"""


def nvda_startup_personality(build: str, tunnel: bool = False) -> dict[str, object]:
    personality: dict[str, object] = {
        "CFBundleIdentifier": kexts.WEB_NVDA,
        "IOClass": "NVDAStartupWeb",
        "IOMatchCategory": "IOFramebuffer",
        "IOPCIMatch": "0x000010de&0x0000ffff",
        "IOProbeScore": 200,
        "IOProviderClass": "IOPCIDevice",
        "NVDARequiredOS": build,
    }
    if tunnel:
        personality["IOPCITunnelCompatible"] = True
    return personality


def kext_versions(version: str) -> tuple[str, str]:
    """(CFBundleShortVersionString, CFBundleVersion) of the driver's kexts, from the facts table."""
    short, bundle = facts.value("webdriver", "kext_short_versions"), facts.value("webdriver", "kextstat_versions")
    if version not in short or version not in bundle:
        raise KeyError(f"the facts table has no kext versions of web driver {version} (webdriver.yaml)")
    return short[version], bundle[version]


def _payload(staging: Path, version: str, build: str) -> None:
    ext = staging / "Library/Extensions"
    short, bundle_version = kext_versions(version)
    versions = {"CFBundleShortVersionString": short, "CFBundleVersion": bundle_version}
    table = facts.value("webdriver", "kexts")
    kexts.make_kext(
        ext / "NVDAStartupWeb.kext",
        table["NVDAStartupWeb"]["id"],
        bundle_version,
        extra={**versions, "IOKitPersonalities": {"NVDAStartup": nvda_startup_personality(build)}},
    )
    for name in ("NVDAResmanWeb", "NVDAResmanTeslaWeb"):
        kexts.make_kext(ext / f"{name}.kext", table[name]["id"], bundle_version, extra=versions)
    kexts.make_kext(
        ext / "GeForceWeb.kext",
        table["GeForceWeb"]["id"],
        bundle_version,
        # The driver's version is the string's last word, where webdriver.sh reads it (NVIDIA's other words:
        # unconfirmed).
        extra={**versions, "CFBundleGetInfoString": f"GeForceWeb {version}"},
    )
    bundle = staging / "Library/GPUBundles/GeForceGLDriverWeb.bundle/Contents"
    common.write_plist(
        bundle / "Info.plist",
        {"CFBundleIdentifier": "com.nvidia.web.GeForceGLDriverWeb", "CFBundleVersion": version,
         "CFBundleGetInfoString": f"GeForceGLDriverWeb {version}"},
    )  # fmt: skip
    common.write(bundle / "MacOS/GeForceGLDriverWeb", b"\xcf\xfa\xed\xfe stand-in GL driver\n", 0o755)
    pane = staging / PREFPANE / "Contents"
    common.write_plist(
        pane / "Info.plist",
        {"CFBundleIdentifier": "com.nvidia.NVIDIADriverManager", "CFBundleName": "NVIDIA Driver Manager",
         "CFBundleShortVersionString": version, "CFBundleVersion": version},
    )  # fmt: skip
    uninstall = staging / UNINSTALLER
    uninstall.parent.mkdir(parents=True, exist_ok=True)
    write_uninstall_pkg(uninstall, version)
    # The Driver Manager's agent (its update check reads the user's ByHost com.nvidia.nvagent preferences, which
    # the agent writes at login: not in the payload) and its root helper.
    agent, label = facts.value("webdriver", "update_agent"), facts.value("webdriver", "update_prefs_domain")
    common.launchd_job(staging, agent, label)
    common.launchd_job(staging, facts.value("webdriver", "root_helper"), "com.nvidia.nvroothelper")


def write_uninstall_pkg(out: Path, version: str) -> Path:
    """NVUninstall.pkg: an empty payload and a postinstall that removes the driver."""
    import stat

    comp = xar_pkg.Component(
        "com.nvidia.web-driver-uninstall",
        version,
        [xar_pkg.CpioEntry(".", stat.S_IFDIR | 0o755)],
        scripts={"postinstall": UNINSTALL_POSTINSTALL.encode()},
        dirname="NVUninstall.pkg",
    )
    dist = xar_pkg.distribution_xml("NVIDIA Web Driver Uninstaller", [comp], restart=True)
    return xar_pkg.write_product_pkg(out, dist, [comp])


def build_webdriver_pkg(out: Path, work: Path, version: str, built_for: str, product_version: str) -> Path:
    """WebDriver-<version>.pkg for `built_for` (e.g. 387.10.10.10.25.156 for 17D47, 10.13.3)."""
    staging = work / f"webdriver-{version}"
    _payload(staging, version, built_for)
    comp = common.component(
        staging, RECEIPT_ID, version, "NVWebDrivers.pkg", scripts={"postinstall": POSTINSTALL.encode()}
    )
    script = CHECK_SCRIPT.format(product_version=product_version, build=built_for)
    dist = xar_pkg.distribution_xml(
        f"NVIDIA Web Driver {version}", [comp], script=script, installation_check="InstallationCheck()", restart=True
    )
    return xar_pkg.write_product_pkg(out, dist, [comp])
