"""egpu.mac.plist_value's decisions: how a wanted value compares with PlistBuddy's Print, and which commands take
a key from what it holds to what is wanted (a typed value of another type is replaced, not Set)."""

from __future__ import annotations

import pytest

from ansible_collections.egpu.mac.plugins.action.plist_value import commands, owner_differs, owner_of, printed
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import ActionFailed


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [("0", "integer", "0"), ("007", "integer", "7"), ("YES", "bool", "true"), ("0", "bool", "false"),
     ("17C88", "string", "17C88")],
)  # fmt: skip
def test_printed_is_what_print_shows(value: str, kind: str, shown: str) -> None:
    assert printed(value, kind) == shown


@pytest.mark.parametrize(("value", "kind"), [("off", "integer"), ("maybe", "bool")])
def test_a_value_of_the_wrong_type_is_refused(value: str, kind: str) -> None:
    with pytest.raises(ActionFailed, match=value):
        printed(value, kind)


def test_commands_per_case() -> None:
    assert commands("autoCheck", "integer", None, "0") == ["Add :autoCheck integer 0"]
    # PlistBuddy's Set keeps the stored type: a bool `true` would become `false`, not the integer 0.
    assert commands("autoCheck", "integer", "true", "0") == ["Delete :autoCheck", "Add :autoCheck integer 0"]
    assert commands("a:NVDARequiredOS", "string", "17D47", "17C88") == ["Set :a:NVDARequiredOS 17C88"]
    assert commands("downloadInBackground", "string", "true", None) == ["Delete :downloadInBackground"]


def test_the_owner_is_read_from_ls_and_compared_by_what_is_given() -> None:
    # macOS's `ls -ld`: mode, links, owner, group, size, date, path
    assert owner_of("-rw-r--r--  1 root  wheel  42 Dec  5 19:29 /Users/admin/Library/Preferences/ByHost/x.plist") == (
        "root:wheel"
    )
    assert owner_of("") is None
    assert owner_differs("root:wheel", "admin:staff") and owner_differs("admin:wheel", "admin:staff")
    assert not owner_differs("admin:staff", "admin:staff") and not owner_differs("admin:wheel", "admin")
    assert not owner_differs(None, "admin:staff") and not owner_differs("root:wheel", "")
