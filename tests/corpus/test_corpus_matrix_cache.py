"""Bad input to the global options, `matrix` and `cache fetch|add|list|verify`: exit 2 with a message and its fix,
no traceback, nothing changed (the case's directory: cwd, cache, lock, HOME, XDG), no hang."""

from __future__ import annotations

import pytest
from corpus_harness import FIFO_WAIT, GARBAGE, Case, Where, all_of, check_case, dirs, fifo, files, mode, params, symlink

C = "--cache-dir"
LOCK = ("--lock", "{t}/egpu-setup.lock")

GLOBAL = [
    Case("global-no-command", (), expect=("no command given",)),
    Case("global-unknown-command", ("frobnicate",), expect=("frobnicate",)),
    Case("global-unknown-option", ("--bogus",), expect=("--bogus",)),
    Case("global-unknown-option-of-matrix", ("matrix", "--bogus"), expect=("egpu-setup matrix --help",)),
    Case("global-cache-without-action", ("cache",), expect=("cache",)),
    Case("global-cache-unknown-action", ("cache", "bogus"), expect=("bogus",)),
    Case("global-lab-without-verb", ("lab",), expect=("needs a verb",)),
    Case("global-lab-unknown-verb", ("lab", "bogus"), expect=("bogus",)),
    Case("global-plan-extra-positional", ("plan", "extra"), expect=("extra",)),
    Case("global-option-missing-value", ("matrix", "--build"), expect=("--build",)),
]

MATRIX = [
    Case("matrix-unknown-build", ("matrix", "--build", "99Z999"), expect=("99Z999",)),
    Case("matrix-empty-build", ("matrix", "--build", ""), expect=("build",)),
    Case("matrix-product-version-as-build", ("matrix", "--build", "10.13.2"), expect=("10.13.2",)),
    Case("matrix-sierra-build", ("matrix", "--build", "16G29"), expect=("16G29",)),
    Case("matrix-unknown-profile", ("matrix", "--build", "17C88", "--profile", "nope"), expect=("nope",)),
    Case("matrix-unknown-profile-without-build", ("matrix", "--profile", "nope"), expect=("--build",)),
    Case("matrix-empty-profile", ("matrix", "--build", "17C88", "--profile", ""), expect=("--profile", "empty value")),
    Case("matrix-unknown-gpu", ("matrix", "--build", "17C88", "--gpu", "nosuch"), expect=("nosuch",)),
    Case("matrix-gpu-bad-hex", ("matrix", "--build", "17C88", "--gpu", "0xzz"), expect=("0xzz",)),
    Case("matrix-cc-not-a-number", ("matrix", "--build", "17C88", "--compute-capability", "abc"), expect=("abc",)),
    Case("matrix-cc-unknown", ("matrix", "--build", "17C88", "--compute-capability", "9.9"), expect=("9.9",)),
    Case("matrix-overlay-missing", ("matrix", "--overlay", "{t}/nope.yaml"), expect=("nope.yaml",)),
    Case("matrix-overlay-directory", ("matrix", "--overlay", "{t}/d"), setup=dirs("d"), expect=("{t}/d",)),
    Case("matrix-overlay-binary", ("matrix", "--overlay", "{t}/o.yaml"), setup=files(**{"o.yaml": GARBAGE}),
         expect=("o.yaml",)),
    Case("matrix-overlay-list", ("matrix", "--overlay", "{t}/o.yaml"), setup=files(**{"o.yaml": "- 1\n- 2\n"}),
         expect=("o.yaml",)),
    Case("matrix-overlay-bad-yaml", ("matrix", "--overlay", "{t}/o.yaml"),
         setup=files(**{"o.yaml": "artifacts: [unclosed\n"}), expect=("o.yaml",)),
    Case("matrix-overlay-fifo", ("matrix", "--overlay", "{t}/o.yaml"), setup=fifo("o.yaml"), expect=("o.yaml",),
         timeout=FIFO_WAIT),
    Case("matrix-overlay-unreadable", ("matrix", "--overlay", "{t}/o.yaml"),
         setup=all_of(files(**{"o.yaml": "{}\n"}), mode("o.yaml", 0)), expect=("o.yaml",)),
    Case("matrix-file-missing", ("matrix", "--matrix", "{t}/m.yaml"), expect=("m.yaml",)),
    Case("matrix-file-binary", ("matrix", "--matrix", "{t}/m.yaml"), setup=files(**{"m.yaml": GARBAGE}),
         expect=("m.yaml",)),
    Case("matrix-file-empty", ("matrix", "--matrix", "{t}/m.yaml"), setup=files(**{"m.yaml": ""}),
         expect=("m.yaml",)),
    Case("matrix-file-directory", ("matrix", "--matrix", "{t}/m"), setup=dirs("m"), expect=("{t}/m",)),
    Case("matrix-file-fifo", ("matrix", "--matrix", "{t}/m.yaml"), setup=fifo("m.yaml"), expect=("m.yaml",),
         timeout=FIFO_WAIT),
    Case("matrix-file-wrong-schema", ("matrix", "--matrix", "{t}/m.yaml"),
         setup=files(**{"m.yaml": "builds: 42\n"}), expect=("m.yaml",)),
]

DAMAGED_LOCKS = {
    "binary": GARBAGE,
    "list": "- webdriver\n- cuda\n",
    "bad-yaml": "artifacts: {webdriver: [\n",
    "wrong-digest": "artifacts:\n  webdriver:\n    387.10.10.10.25.156:\n      sha256: not-a-digest\n",
}

CACHE_FETCH = [
    Case("fetch-unknown-profile", ("cache", "fetch", C, "{t}/c", *LOCK, "--profile", "nope"), expect=("nope",)),
    Case("fetch-unknown-build", ("cache", "fetch", C, "{t}/c", *LOCK, "--build", "99Z999"), expect=("99Z999",)),
    Case("fetch-unknown-only", ("cache", "fetch", C, "{t}/c", *LOCK, "--only", "nosuch"), expect=("nosuch",)),
    Case("fetch-url-without-equals", ("cache", "fetch", C, "{t}/c", *LOCK, "--url", "webdriver"),
         expect=("webdriver",)),
    Case("fetch-url-unknown-id", ("cache", "fetch", C, "{t}/c", *LOCK, "--url", "nosuch=http://127.0.0.1:9/x"),
         expect=("nosuch",)),
    Case("fetch-url-not-a-url", ("cache", "fetch", C, "{t}/c", *LOCK, "--only", "webdriver", "--url",
                                 "webdriver=not a url"), expect=("not a url",)),
    Case("fetch-mirror-not-a-url", ("cache", "fetch", C, "{t}/c", *LOCK, "--only", "webdriver", "--mirror",
                                    "no-scheme"), expect=("no-scheme",)),
    *(
        Case(f"fetch-damaged-lock-{kind}", ("cache", "fetch", C, "{t}/c", *LOCK, "--only", "webdriver"),
             setup=files(**{"egpu-setup.lock": content}), expect=("egpu-setup.lock",))
        for kind, content in DAMAGED_LOCKS.items()
    ),
    Case("fetch-lock-is-directory", ("cache", "fetch", C, "{t}/c", *LOCK, "--only", "webdriver"),
         setup=dirs("egpu-setup.lock"), expect=("egpu-setup.lock",)),
    Case("fetch-lock-is-fifo", ("cache", "fetch", C, "{t}/c", *LOCK, "--only", "webdriver"),
         setup=fifo("egpu-setup.lock"), expect=("egpu-setup.lock",), timeout=FIFO_WAIT),
    Case("fetch-lock-under-a-file", ("cache", "fetch", C, "{t}/c", "--lock", "{t}/f/egpu-setup.lock", "--only",
                                     "webdriver"), setup=files(f="x"), expect=("{t}/f",)),
    Case("fetch-lock-empty-path", ("cache", "fetch", C, "{t}/c", "--lock", "", "--only", "webdriver"),
         expect=("lock",)),
    Case("fetch-cache-dir-is-file", ("cache", "fetch", C, "{t}/f", *LOCK, "--only", "webdriver"),
         setup=files(f="x"), expect=("{t}/f",)),
    Case("fetch-cache-dir-under-file", ("cache", "fetch", C, "{t}/f/c", *LOCK, "--only", "webdriver"),
         setup=files(f="x"), expect=("{t}/f",)),
    Case("fetch-cache-dir-empty-path", ("cache", "fetch", C, "", *LOCK, "--only", "webdriver"),
         expect=("--cache-dir", "empty path")),
    Case("fetch-overlay-missing", ("cache", "fetch", C, "{t}/c", *LOCK, "--overlay", "{t}/o.yaml"),
         expect=("o.yaml",)),
    Case("fetch-overlay-binary", ("cache", "fetch", C, "{t}/c", *LOCK, "--overlay", "{t}/o.yaml"),
         setup=files(**{"o.yaml": GARBAGE}), expect=("o.yaml",)),
    Case("fetch-env-cache-is-file", ("cache", "fetch", *LOCK, "--only", "webdriver"),
         setup=files(f="x"), env={"EGPU_SETUP_CACHE": "{t}/f"}, expect=("{t}/f",)),
]

WD = "webdriver@387.10.10.10.25.156"
PKG = "{t}/dl/WebDriver-387.10.10.10.25.156.pkg"
CACHE_ADD = [
    Case("add-missing-file", ("cache", "add", C, "{t}/c", *LOCK, "{t}/nope.pkg"), expect=("nope.pkg",)),
    Case("add-directory", ("cache", "add", C, "{t}/c", *LOCK, "{t}/d"), setup=dirs("d"), expect=("{t}/d",)),
    Case("add-fifo", ("cache", "add", C, "{t}/c", *LOCK, "{t}/x.pkg"), setup=fifo("x.pkg"), expect=("x.pkg",)),
    Case("add-empty-file", ("cache", "add", C, "{t}/c", *LOCK, "{t}/x.pkg"), setup=files(**{"x.pkg": ""}),
         expect=("x.pkg",)),
    Case("add-unknown-file", ("cache", "add", C, "{t}/c", *LOCK, "{t}/x.pkg"), setup=files(**{"x.pkg": GARBAGE}),
         expect=("x.pkg",)),
    Case("add-unknown-as", ("cache", "add", C, "{t}/c", *LOCK, "--as", "nosuch", "{t}/x.pkg"),
         setup=files(**{"x.pkg": GARBAGE}), expect=("nosuch",)),
    Case("add-empty-as", ("cache", "add", C, "{t}/c", *LOCK, "--as", "", "{t}/x.pkg"),
         setup=files(**{"x.pkg": GARBAGE}), expect=("--as",)),
    Case("add-as-unknown-version", ("cache", "add", C, "{t}/c", *LOCK, "--as", "webdriver@9.9.9", "{t}/x.pkg"),
         setup=files(**{"x.pkg": GARBAGE}), expect=("9.9.9",)),
    Case("add-as-wrong-content", ("cache", "add", C, "{t}/c", *LOCK, "--as", WD, "{t}/x.pkg"),
         setup=files(**{"x.pkg": GARBAGE}), expect=("x.pkg",)),
    Case("add-by-name-wrong-content", ("cache", "add", C, "{t}/c", *LOCK, PKG), setup=files(**{PKG[4:]: GARBAGE}),
         expect=("WebDriver-387.10.10.10.25.156.pkg",)),
    Case("add-unreadable", ("cache", "add", C, "{t}/c", *LOCK, "{t}/x.pkg"),
         setup=all_of(files(**{"x.pkg": GARBAGE}), mode("x.pkg", 0)),
         expect=("cannot read", "x.pkg", "permission denied")),
    Case("add-damaged-lock", ("cache", "add", C, "{t}/c", *LOCK, "--as", WD, "{t}/x.pkg"),
         setup=files(**{"x.pkg": GARBAGE, "egpu-setup.lock": DAMAGED_LOCKS["bad-yaml"]}),
         expect=("egpu-setup.lock",)),
    # two faults (the content and the cache): either refusal will do, as long as nothing is written
    Case("add-wrong-content-cache-dir-is-file", ("cache", "add", C, "{t}/f", *LOCK, "--as", WD, "{t}/x.pkg"),
         setup=files(f="x", **{"x.pkg": GARBAGE}), expect=("error:",)),
    Case("add-dangling-symlink", ("cache", "add", C, "{t}/c", *LOCK, "{t}/x.pkg"), setup=symlink("x.pkg", "{t}/no"),
         expect=("x.pkg",)),
]

INDEX = "c/index.json"
CACHE_LIST_VERIFY = [
    Case("list-missing-cache-is-empty", ("cache", "list", C, "{t}/nothere"), code=0, refusal=False),
    Case("verify-missing-cache-is-empty", ("cache", "verify", C, "{t}/nothere"), code=0, refusal=False),
    Case("list-cache-dir-is-file", ("cache", "list", C, "{t}/f"), setup=files(f="x"), expect=("{t}/f",)),
    Case("verify-cache-dir-is-file", ("cache", "verify", C, "{t}/f"), setup=files(f="x"), expect=("{t}/f",)),
    Case("list-env-cache-is-file", ("cache", "list",), setup=files(f="x"), env={"EGPU_SETUP_CACHE": "{t}/f"},
         expect=("{t}/f",)),
    Case("list-index-binary", ("cache", "list", C, "{t}/c"), setup=files(**{INDEX: GARBAGE}), expect=("index.json",)),
    Case("verify-index-binary", ("cache", "verify", C, "{t}/c"), setup=files(**{INDEX: GARBAGE}),
         expect=("index.json",)),
    Case("list-index-json-list", ("cache", "list", C, "{t}/c"), setup=files(**{INDEX: "[1, 2]"}),
         expect=("index.json",)),
    Case("verify-index-bad-entry", ("cache", "verify", C, "{t}/c"),
         setup=files(**{INDEX: '{"artifacts": {"zz": 42}}'}), expect=("index.json",)),
    Case("list-index-directory", ("cache", "list", C, "{t}/c"), setup=dirs(INDEX), expect=("index.json",)),
    Case("list-index-fifo", ("cache", "list", C, "{t}/c"), setup=fifo(INDEX), expect=("index.json", "FIFO"),
         timeout=FIFO_WAIT),
    Case("verify-index-unreadable", ("cache", "verify", C, "{t}/c"),
         setup=all_of(files(**{INDEX: "{}"}), mode(INDEX, 0)), expect=("index.json",)),
]


@pytest.mark.parametrize("case", params(GLOBAL + MATRIX + CACHE_FETCH + CACHE_ADD + CACHE_LIST_VERIFY))
def test_bad_input(case: Case, where: Where) -> None:
    check_case(case, where)
