"""Apple's build numbers: `17C88` = Darwin 17 (macOS 10.13), update letter C (the third: 10.13.2), build 88.

The scheme (Darwin major -> macOS release, letter A = the .0 release, B = .1, ...) is how every High Sierra build in
the matrix is numbered (see the facts page's build table); `sw_vers -buildVersion` prints it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BUILD = re.compile(r"^(?P<darwin>\d{2})(?P<letter>[A-Z])(?P<number>\d{1,5})(?P<suffix>[a-z]?)$")

# Darwin major -> (macOS release, marketing name); 10.13 is the only one egpu-setup provisions.
RELEASES: dict[int, tuple[str, str]] = {
    14: ("10.10", "Yosemite"),
    15: ("10.11", "El Capitan"),
    16: ("10.12", "Sierra"),
    17: ("10.13", "High Sierra"),
    18: ("10.14", "Mojave"),
    19: ("10.15", "Catalina"),
    20: ("11", "Big Sur"),
    21: ("12", "Monterey"),
    22: ("13", "Ventura"),
    23: ("14", "Sonoma"),
    24: ("15", "Sequoia"),
}


@dataclass(frozen=True)
class BuildNumber:
    text: str
    darwin: int
    letter: str
    number: int

    @property
    def release(self) -> str | None:
        """ "10.13" for a Darwin 17 build; None for a Darwin version this table does not know."""
        known = RELEASES.get(self.darwin)
        return known[0] if known else None

    @property
    def release_name(self) -> str:
        known = RELEASES.get(self.darwin)
        return known[1] if known else f"Darwin {self.darwin}"

    @property
    def update(self) -> int:
        """The update the letter stands for: A = 0, B = 1, C = 2 ..."""
        return ord(self.letter) - ord("A")

    @property
    def product_version(self) -> str:
        """The product version the letter implies, e.g. 10.13.2 for 17C88; a guess for unknown releases."""
        release = self.release or f"?({self.darwin})"
        return f"{release}.{self.update}"


def parse_build(text: str) -> BuildNumber | None:
    """The parts of a build number, or None when `text` is not one."""
    match = _BUILD.match(text.strip())
    if not match:
        return None
    return BuildNumber(
        text=text.strip(), darwin=int(match["darwin"]), letter=match["letter"], number=int(match["number"])
    )
