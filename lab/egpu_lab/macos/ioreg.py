"""ioreg: a small I/O Registry with the GPU behind a Thunderbolt bridge."""

from __future__ import annotations

import plistlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from egpu_lab.machine import MachineState
from egpu_lab.macos.base import Sim

EXECUTABLES = {"/usr/sbin/ioreg": "ioreg"}


@dataclass
class Node:
    name: str
    cls: str
    props: dict[str, Any] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    ident: int = 0


def _le32(value: int) -> bytes:
    return value.to_bytes(4, "little")


def platform_uuid(hostname: str) -> str:
    """The Mac's hardware UUID (IOPlatformUUID, what ByHost preference files are named after): fixed per host."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{hostname}.rehearsal")).upper()


def registry(st: MachineState) -> Node:
    """The part of the I/O Registry the eGPU checks look at."""
    tunnel = bool(st.hardware.thunderbolt)
    nhi = Node("AppleThunderboltNHIType3", "AppleThunderboltNHIType3", {"IOName": "pci-bridge"})
    bridge = Node("pci-bridge@0", "IOPCIDevice", {"IOName": "pci-bridge", "vendor-id": _le32(0x8086),
                                                  "device-id": _le32(0x15D3), "IOPCITunnelled": tunnel,
                                                  "name": b"pci-bridge\x00"})  # fmt: skip
    gpu = st.hardware.gpu
    if gpu is not None:
        display = Node(
            "display@0",
            "IOPCIDevice",
            {"IOName": "display", "name": b"display\x00", "vendor-id": _le32(gpu.vendor_id),
             "device-id": _le32(gpu.device_id), "revision-id": _le32(gpu.revision_id),
             "class-code": _le32(0x030000), "IOPCITunnelled": gpu.thunderbolt,
             "model": gpu.model.encode() + b"\x00"},
        )  # fmt: skip
        driver = {"web": "NVDAStartupWeb", "apple": "NVDAStartup"}.get(st.boot.gpu_driver or "")
        if driver:
            display.children.append(Node(driver, driver, {"IOClass": driver, "IOProviderClass": "IOPCIDevice"}))
        bridge.children.append(display)
    nhi.children.append(bridge)
    pci = Node("PCI0@0", "AppleACPIPCI", {"IOName": "PCI0"}, [nhi])
    expert = Node(
        st.hw_model,
        "IOPlatformExpertDevice",
        {
            "model": st.hw_model.encode() + b"\x00",
            "IOPlatformSerialNumber": "C02REHEARSAL",
            "IOPlatformUUID": platform_uuid(st.hostname),
        },
        [pci],
    )
    root = Node("Root", "IORegistryEntry", {}, [expert])
    _number(root, [0x100000100])
    return root


def _number(node: Node, counter: list[int]) -> None:
    node.ident = counter[0]
    counter[0] += 0x11
    for child in node.children:
        _number(child, counter)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, bytes):
        if value.endswith(b"\x00") and value[:-1].isascii() and value[:-1].decode().isprintable():
            return f'<"{value[:-1].decode()}">'
        return f"<{value.hex()}>"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _header(node: Node) -> str:
    return (
        f"+-o {node.name}  <class {node.cls}, id {node.ident:#x}, registered, matched, active, busy 0 (0 ms), retain 8>"
    )


def _print(sim: Sim, node: Node, depth: int, props: bool, prefix: str, max_depth: int | None) -> None:
    sim.out(prefix + _header(node))
    inner = prefix + ("| " if node.children else "  ")
    if props:
        sim.out(inner + "  {")
        for key, value in node.props.items():
            sim.out(f'{inner}    "{key}" = {_value(value)}')
        sim.out(inner + "  }")
        sim.out(inner)
    if max_depth is not None and depth + 1 >= max_depth:
        return
    for child in node.children:
        _print(sim, child, depth + 1, props, prefix + "  ", max_depth)


def _find(node: Node, cls: str | None, name: str | None) -> list[Node]:
    found = []
    if (cls and node.cls == cls) or (name and (node.name == name or node.name.split("@")[0] == name)):
        found.append(node)
    for child in node.children:
        found += _find(child, cls, name)
    return found


def _as_dict(node: Node, recurse: bool) -> dict[str, Any]:
    doc = dict(node.props)
    doc.update({"IOObjectClass": node.cls, "IORegistryEntryName": node.name, "IORegistryEntryID": node.ident})
    if recurse and node.children:
        doc["IORegistryEntryChildren"] = [_as_dict(c, True) for c in node.children]
    return doc


def ioreg(argv: list[str], sim: Sim) -> int:
    """Imitates ioreg(8) of 10.13 (IOKitTools ioreg.c; property formats from macos-commands.md): enough of the
    registry to find the GPU behind Thunderbolt.

    Tree lines `+-o name  <class C, id 0x..., ...>`; `-l` shows properties (`"vendor-id" = <de100000>`,
    `"IOPCITunnelled" = Yes`, `"model" = <"NVIDIA GeForce GTX 1080">`); `-r` roots the output at matches of
    `-c CLASS` or `-n NAME`; `-d N` limits depth; `-a` prints an XML plist; `-w0`, `-x`, `-p PLANE` accepted.
    Divergence: a small registry (platform, PCI0, the Thunderbolt NHI and bridge, the display and its driver);
    `-k KEY` filters nodes by key presence only.
    """
    props = False
    rooted = False
    cls = name = key = None
    depth: int | None = None
    archive = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-c", "-n", "-k", "-d", "-p", "-w") and i + 1 < len(argv):
            value = argv[i + 1]
            if arg == "-c":
                cls = value
            elif arg == "-n":
                name = value
            elif arg == "-k":
                key = value
            elif arg == "-d":
                depth = int(value)
            i += 2
            continue
        if arg.startswith("-") and len(arg) > 1:
            for flag in arg[1:]:
                if flag == "l":
                    props = True
                elif flag == "r":
                    rooted = True
                elif flag == "a":
                    archive = True
                elif flag in "xbfitsw0123456789":
                    pass
                else:
                    sim.fail(
                        f"ioreg: illegal option -- {flag}\nusage: ioreg [-abfilrtx] [-c class] [-d depth] "
                        "[-k key] [-n name] [-p plane] [-w width]",
                        1,
                    )
        i += 1
    root = registry(sim.machine.read())
    starts = _find(root, cls, name) if rooted and (cls or name) else [root]
    if key:
        starts = [n for n in _find_all(root) if key in n.props]
        props = True
    if archive:
        docs = [_as_dict(n, True) for n in starts]
        sim.stdout.write(plistlib.dumps(docs if rooted or key else docs[0]).decode())
        return 0
    show_props = props or (bool(cls or name) and not rooted)
    for node in starts:
        if not rooted and (cls or name) and node is root:
            _print_marked(sim, root, cls, name, props, depth)
        else:
            _print(sim, node, 0, show_props or props, "", depth)
    return 0


def _find_all(node: Node) -> list[Node]:
    out = [node]
    for child in node.children:
        out += _find_all(child)
    return out


def _print_marked(sim: Sim, root: Node, cls: str | None, name: str | None, props: bool, depth: int | None) -> None:
    """Without -r, -c/-n print the whole tree with properties shown for the matching nodes (as ioreg does)."""
    matches = {id(n) for n in _find(root, cls, name)}

    def walk(node: Node, level: int, prefix: str) -> None:
        sim.out(prefix + _header(node))
        inner = prefix + ("| " if node.children else "  ")
        if props or id(node) in matches:
            sim.out(inner + "  {")
            for k, v in node.props.items():
                sim.out(f'{inner}    "{k}" = {_value(v)}')
            sim.out(inner + "  }")
            sim.out(inner)
        if depth is not None and level + 1 >= depth:
            return
        for child in node.children:
            walk(child, level + 1, prefix + "  ")

    walk(root, 0, "")
