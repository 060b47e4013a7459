"""The installation-check of a Distribution file, evaluated the way Installer's JavaScript would, for one idiom.

Apple's "Distribution XML Reference" (developer.apple.com, Installer JavaScript Reference): `<installation-check
script="F()"/>` runs F in the `<script>` element; false refuses the install, with `my.result.message` as the
reason. NVIDIA's web driver Distribution (as quoted in public patching notes, e.g. the WebDriver-17G66 notes and
vulgo/webdriver.sh, mayankk2308/purge-wrangler, which delete the check with `sed '/installation-check/d'`) does:

    function InstallationCheck() { if (!validateSoftware()) return false; return true; }
    function validateSoftware() { var supportedOSBuildVer = "17D47";
        var targetBuild = system.version.ProductBuildVersion;
        var result = compareBuildVersions(targetBuild, supportedOSBuildVer);
        if (result != 0) { my.result.message = "..."; my.result.type = 'Fatal'; return false; } return true; }

This module interprets exactly that small language: function declarations without parameters or with simple
parameters, `var`/assignment, `if`/`else`, `return`, `!`, `==`/`!=`, string `+`, calls of functions defined in the
script, and the values `system.version.ProductBuildVersion` / `ProductVersion`. Anything else raises
`Unsupported`, and the caller REFUSES the install: a check the lab cannot evaluate must never pass.

`evaluate_volume_check` reads the declarative `<volume-check>` as the same reference describes it (NVDAEGPUSupport's
Distribution uses it: pedroresende/NVIDIAEGPUSupport package/package.dist):
- "All of the tests in the script attribute and the child elements must pass"; the `script` runs like an
  installation-check script (a script the interpreter cannot evaluate refuses).
- `<allowed-os-versions>`: the OS of the target volume must fall into one of its `<os-version>` ranges; `min` is
  required and inclusive, `before` optional and exclusive.
- `<required-bundles all="true|false">` (default true: every bundle; false: at least one): "bundles that must be
  already installed on the system. If the child bundle element has a version specified, this is interpreted as the
  minimum supported version for that bundle." A `<bundle>` has `id` (its CFBundleIdentifier), `path` (relative to
  the target volume), optional `CFBundleShortVersionString` / `CFBundleVersion`, and `search` (default false:
  only `path` counts; true: look for the identifier elsewhere when it is not at `path`).
Refusals print `installer: Cannot install on volume / because it is disabled.` and a reason, like an
installation-check's. Assumed (no public transcript found): the reason texts of a failed allowed-os-versions
(`The version of macOS is too new.` is in public transcripts, yantis/instant-archlinux-on-mac#3, Homebrew/
homebrew-cask#80086; "too old" is modelled on it) and of a failed required-bundles (the `description` attribute when
the Distribution has one, else the lab's own sentence naming the bundle); that versions compare number by number
(10.29.10 < 10.30.0); `search="true"` is not imitated (Launch Services): such a bundle missing at its path refuses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<num>\d+)|(?P<op>!=|==|&&|\|\||[(){};,=!+<>])"""
    r"""|(?P<id>[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*))"""
)


class Unsupported(Exception):
    """The script uses something this interpreter does not know: the install must be refused."""


@dataclass
class CheckResult:
    ok: bool
    message: str = ""
    evaluated: bool = True  # False when the check could not be evaluated (then ok is False)


@dataclass
class _Env:
    system: dict[str, str]
    functions: dict[str, tuple[list[str], list[tuple[str, Any]]]] = field(default_factory=dict)
    result: dict[str, str] = field(default_factory=dict)  # my.result.*
    depth: int = 0


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


def _tokens(script: str) -> list[tuple[str, str]]:
    script = re.sub(r"/\*.*?\*/", " ", script, flags=re.S)
    script = re.sub(r"(?m)//.*$", "", script)
    out, pos = [], 0
    while pos < len(script):
        if script[pos:].strip() == "":
            break
        m = _TOKEN.match(script, pos)
        if not m or m.end() == pos:
            raise Unsupported(f"unexpected text near {script[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.t = tokens
        self.i = 0

    def peek(self, value: str | None = None) -> bool:
        return self.i < len(self.t) and (value is None or self.t[self.i][1] == value)

    def take(self, value: str | None = None) -> str:
        if not self.peek(value):
            raise Unsupported(f"expected {value!r}" if value else "unexpected end of script")
        self.i += 1
        return self.t[self.i - 1][1]

    def program(self) -> list[tuple[str, Any]]:
        stmts = []
        while self.peek():
            stmts.append(self.statement())
        return stmts

    def block(self) -> list[tuple[str, Any]]:
        if self.peek("{"):
            self.take("{")
            body = []
            while not self.peek("}"):
                body.append(self.statement())
            self.take("}")
            return body
        return [self.statement()]

    def statement(self) -> tuple[str, Any]:
        word = self.t[self.i][1] if self.peek() else ""
        if word == "function":
            self.take()
            name = self.take()
            self.take("(")
            params = []
            while not self.peek(")"):
                params.append(self.take())
                if self.peek(","):
                    self.take(",")
            self.take(")")
            return ("function", (name, params, self.block()))
        if word == "var":
            self.take()
            name = self.take()
            value = None
            if self.peek("="):
                self.take("=")
                value = self.expr()
            self.take(";")
            return ("assign", (name, value))
        if word == "if":
            self.take()
            self.take("(")
            cond = self.expr()
            self.take(")")
            then = self.block()
            other = []
            if self.peek("else"):
                self.take("else")
                other = self.block()
            return ("if", (cond, then, other))
        if word == "return":
            self.take()
            value = None if self.peek(";") else self.expr()
            self.take(";")
            return ("return", value)
        if word == "{":
            return ("block", self.block())
        if self.i + 1 < len(self.t) and self.t[self.i][0] == "id" and self.t[self.i + 1][1] == "=":
            name = self.take()
            self.take("=")
            value = self.expr()
            self.take(";")
            return ("assign", (name, value))
        expr = self.expr()
        self.take(";")
        return ("expr", expr)

    def expr(self) -> Any:
        left = self.sum()
        if self.peek("==") or self.peek("!="):
            op = self.take()
            return (op, left, self.sum())
        return left

    def sum(self) -> Any:
        left = self.unary()
        while self.peek("+"):
            self.take("+")
            left = ("+", left, self.unary())
        return left

    def unary(self) -> Any:
        if self.peek("!"):
            self.take("!")
            return ("!", self.unary())
        if self.peek("("):
            self.take("(")
            inner = self.expr()
            self.take(")")
            return inner
        kind, value = self.t[self.i] if self.peek() else ("", "")
        self.take()
        if kind == "str":
            return ("lit", re.sub(r"\\(.)", r"\1", value[1:-1]))
        if kind == "num":
            return ("lit", int(value))
        if value in ("true", "false"):
            return ("lit", value == "true")
        if kind != "id":
            raise Unsupported(f"unexpected {value!r}")
        if self.peek("("):
            self.take("(")
            args = []
            while not self.peek(")"):
                args.append(self.expr())
                if self.peek(","):
                    self.take(",")
            self.take(")")
            return ("call", value, args)
        return ("name", value)


def _eval(node: Any, scope: dict[str, Any], env: _Env) -> Any:
    op = node[0]
    if op == "lit":
        return node[1]
    if op == "name":
        name = node[1]
        if name in scope:
            return scope[name]
        if name.startswith("system.version."):
            key = name.removeprefix("system.version.")
            if key in env.system:
                return env.system[key]
        raise Unsupported(f"unknown value {name}")
    if op == "!":
        return not _eval(node[1], scope, env)
    if op in ("==", "!="):
        equal = _eval(node[1], scope, env) == _eval(node[2], scope, env)
        return equal if op == "==" else not equal
    if op == "+":
        left, right = _eval(node[1], scope, env), _eval(node[2], scope, env)
        if isinstance(left, str) or isinstance(right, str):
            return f"{left}{right}"
        return left + right
    if op == "call":
        return _call(node[1], [_eval(a, scope, env) for a in node[2]], env)
    raise Unsupported(f"cannot evaluate {op}")


def _run(stmts: list[tuple[str, Any]], scope: dict[str, Any], env: _Env) -> None:
    for kind, arg in stmts:
        if kind == "function":
            name, params, body = arg
            env.functions[name] = (params, body)
        elif kind == "assign":
            name, value = arg
            value = None if value is None else _eval(value, scope, env)
            if name.startswith("my.result."):
                env.result[name.removeprefix("my.result.")] = str(value)
            elif "." in name:
                raise Unsupported(f"cannot assign {name}")
            else:
                scope[name] = value
        elif kind == "if":
            cond, then, other = arg
            _run(then if _eval(cond, scope, env) else other, scope, env)
        elif kind == "return":
            raise _Return(None if arg is None else _eval(arg, scope, env))
        elif kind == "block":
            _run(arg, scope, env)
        else:
            _eval(arg, scope, env)


def _call(name: str, args: list[Any], env: _Env) -> Any:
    if name not in env.functions:
        raise Unsupported(f"call of unknown function {name}()")
    env.depth += 1
    if env.depth > 50:
        raise Unsupported("recursion too deep")
    params, body = env.functions[name]
    scope = dict(zip(params, args, strict=False))
    try:
        _run(body, scope, env)
    except _Return as ret:
        return ret.value
    finally:
        env.depth -= 1
    return None


def evaluate(distribution: bytes, build: str, product_version: str) -> CheckResult:
    """Run the Distribution's installation-check against a host's build; no check means the install may go on."""
    try:
        root = ET.fromstring(distribution)
    except ET.ParseError:
        return CheckResult(False, "The Distribution file is not valid XML.", evaluated=False)
    check = root.find("installation-check")
    if check is None:
        return CheckResult(True)
    call = (check.get("script") or "").strip()
    m = re.fullmatch(r"([A-Za-z_$][\w$]*)\(\s*\)", call)
    env = _Env(system={"ProductBuildVersion": build, "ProductVersion": product_version})
    try:
        if not m:
            raise Unsupported(f"installation-check script {call!r}")
        script = "\n".join(s.text or "" for s in root.findall("script"))
        _run(_Parser(_tokens(script)).program(), {}, env)
        passed = _call(m.group(1), [], env)
    except Unsupported as exc:
        return CheckResult(False, f"The rehearsal lab cannot evaluate this installation check ({exc}).", False)
    if passed is True:
        return CheckResult(True)
    return CheckResult(False, env.result.get("message", "") or env.result.get("title", ""))


# --- volume-check ---------------------------------------------------------------------------------------------

TOO_NEW = "The version of macOS is too new."
TOO_OLD = "The version of macOS is too old."  # assumed, modelled on TOO_NEW


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """A version as Installer is assumed to order it: number by number, a non-number part after every number."""
    parts = [p for p in re.split(r"[.\-]", version.strip()) if p != ""]
    key = [(0, int(p)) if p.isdigit() else (1, p) for p in parts]
    while key and key[-1] == (0, 0):  # 10.13 == 10.13.0
        key.pop()
    return tuple(key)


def _os_problem(check: ET.Element, product_version: str) -> str | None:
    allowed = check.find("allowed-os-versions")
    if allowed is None:
        return None
    ranges = allowed.findall("os-version")
    if not ranges:
        raise Unsupported("allowed-os-versions without os-version")
    have = version_key(product_version)
    too_new = False
    for os_version in ranges:
        low, high = os_version.get("min"), os_version.get("before")
        if low is None:
            raise Unsupported("os-version without min")
        if have < version_key(low):
            continue
        if high is not None and have >= version_key(high):
            too_new = True
            continue
        return None
    return TOO_NEW if too_new else TOO_OLD


def _bundle_problem(bundle: ET.Element, read_info: Callable[[str], dict[str, Any] | None]) -> str | None:
    bundle_id, path = bundle.get("id"), bundle.get("path")
    if not bundle_id or not path:
        raise Unsupported("a required bundle without id or path")
    mac_path = "/" + path.lstrip("/")  # relative to the target volume, which is /
    name = mac_path.rstrip("/").rsplit("/", 1)[-1]
    info = read_info(mac_path)
    if info is None or str(info.get("CFBundleIdentifier", "")) != bundle_id:
        if bundle.get("search", "false").strip().lower() == "true":
            raise Unsupported(f"the search for {bundle_id} by identifier")
        return f"{name} ({bundle_id}) is not installed at {mac_path}"
    for key in ("CFBundleShortVersionString", "CFBundleVersion"):
        wanted = bundle.get(key)
        if wanted is None:
            continue
        have = str(info.get(key, ""))
        if not have or version_key(have) < version_key(wanted):
            return f"{name} ({bundle_id}) is {key} {have or '(none)'}, it must be {wanted} or later"
    return None


def _bundles_problem(check: ET.Element, read_info: Callable[[str], dict[str, Any] | None]) -> str | None:
    required = check.find("required-bundles")
    if required is None:
        return None
    bundles = required.findall("bundle")
    if not bundles:
        raise Unsupported("required-bundles without bundle")
    every = required.get("all", "true").strip().lower() != "false"
    problems = [p for p in (_bundle_problem(b, read_info) for b in bundles) if p]
    failed = bool(problems) if every else len(problems) == len(bundles)
    if not failed:
        return None
    description = required.get("description")
    if description:
        return description
    return "This package requires software that is not on this volume: " + "; ".join(problems) + "."


def evaluate_volume_check(
    distribution: bytes, build: str, product_version: str, read_info: Callable[[str], dict[str, Any] | None]
) -> CheckResult:
    """Run the Distribution's volume-check against the target volume `/`.

    `read_info(mac_path)` returns the Info.plist of the bundle at `mac_path` (a dict), or None when there is none.
    """
    try:
        root = ET.fromstring(distribution)
    except ET.ParseError:
        return CheckResult(False, "The Distribution file is not valid XML.", evaluated=False)
    check = root.find("volume-check")
    if check is None:
        return CheckResult(True)
    try:
        call = (check.get("script") or "").strip()
        if call and call != "true":
            m = re.fullmatch(r"([A-Za-z_$][\w$]*)\(\s*\)", call)
            if not m:
                raise Unsupported(f"volume-check script {call!r}")
            env = _Env(system={"ProductBuildVersion": build, "ProductVersion": product_version})
            script = "\n".join(s.text or "" for s in root.findall("script"))
            _run(_Parser(_tokens(script)).program(), {}, env)
            if _call(m.group(1), [], env) is not True:
                return CheckResult(False, env.result.get("message", "") or env.result.get("title", ""))
        problem = _os_problem(check, product_version) or _bundles_problem(check, read_info)
    except Unsupported as exc:
        return CheckResult(False, f"The rehearsal lab cannot evaluate this volume check ({exc}).", False)
    return CheckResult(problem is None, problem or "")
