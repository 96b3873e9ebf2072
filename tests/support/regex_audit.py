"""Find every regular expression of Newsflow and time it against adversarial inputs.

Python's ``re`` backtracks: a pattern such as ``<meta[^>]+charset`` or ``\\s*=\\s*`` takes
quadratic (or worse) time on the right input, holding the GIL, so no deadline or heartbeat of
a worker can fire meanwhile. This module is the audit behind ``tests/unit/test_regex_audit.py``:

- :func:`discover` finds the patterns: an AST scan of every ``re.compile/search/match/
  fullmatch/sub/subn/split/findall/finditer`` call in ``newsflow/`` and ``services/`` (its
  pattern evaluated in the module's namespace, so f-strings of module constants count), plus
  every compiled pattern reachable from a module's globals once imported. A call whose pattern
  depends on local values must be listed in :data:`DYNAMIC` (how to obtain its patterns), or
  the audit reports it as uncovered: a new pattern is never skipped silently.
- :func:`adversarial_inputs` builds inputs of about 100 KB from the pattern's own parse tree:
  long runs of each character class and literal it uses, its literal words repeated, repeated
  prefixes of a path through it (unclosed tags, half-written attributes), each prefix followed
  by a long run of what comes next, and alternations of neighbouring classes; each ends in a
  character that stops most matches, which is what forces a backtracking engine to try
  every split.
- :func:`time_pattern` runs ``finditer`` to the end and ``fullmatch`` on each input under a
  hard bound of CPU time (SIGVTALRM interrupts the regex engine, which checks for signals).
  CPU time, not wall time: other processes loading the machine do not count.

``python -m tests.support.regex_audit`` prints every pattern found with its worst time.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import itertools
import re
import re._constants as sre
import re._parser as sre_parse
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("newsflow", "services")
#: Functions of the ``re`` module that take a pattern first, and where their flags are.
RE_FUNCTIONS = {
    "compile": 1,
    "search": 2,
    "match": 2,
    "fullmatch": 2,
    "findall": 2,
    "finditer": 2,
    "split": 3,
    "sub": 4,
    "subn": 4,
}
#: Size of every adversarial input (characters, or bytes for bytes patterns).
SIZE = 100_000
#: Character that ends each input: matched by nothing but negated classes and ``.``.
STOP = "\x00"


class UncoveredPattern(Exception):
    """A pattern the audit cannot obtain or cannot build inputs for."""


# --- patterns applied only with values known at run time ---------------------------------------

#: ``path:function`` of a call whose pattern is built from local values -> how to get them:
#: ``{"locals": {name: [values...]}}`` evaluates the call's own pattern expression with each
#: value (so a change to the expression is still what is tested), ``{"collect": fn}`` walks
#: what ``fn()`` returns for compiled patterns (patterns built once from data tables).
DYNAMIC: dict[str, dict[str, Any]] = {
    # A rule's keyword, escaped: any text a user types.
    "newsflow/stages/alerts/_match.py:keyword_found": {
        "locals": {"wanted": ["bitcoin", "rate cut", "a.b*c", "比特币", "x" * 200]}
    },
    # One pattern per asset with clue words, built from the asset tables: all are collected.
    "newsflow/stages/analysis/symbols.py:_clue_pattern": {"collect": lambda: _clue_patterns()},
}


def _clue_patterns() -> list[re.Pattern[str]]:
    symbols = importlib.import_module("newsflow.stages.analysis.symbols")
    assets = symbols._matcher().table.assets
    return [
        symbols._clue_pattern(symbol, frozenset(asset.clues))
        for symbol, asset in assets.items()
        if asset.clues
    ]


@dataclass
class Found:
    """One compiled pattern and where the audit found it."""

    pattern: re.Pattern[Any]
    where: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[Any, int]:
        return self.pattern.pattern, self.pattern.flags

    def label(self) -> str:
        source = self.pattern.pattern
        text = source if isinstance(source, str) else repr(source)
        return text if len(text) <= 90 else text[:87] + "..."


# --- discovery ---------------------------------------------------------------------------------


def source_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def importable(name: str) -> bool:
    # ``__main__`` modules start servers when imported.
    return not name.endswith("__main__")


def _re_aliases(tree: ast.AST) -> tuple[set[str], dict[str, str]]:
    """Names bound to the ``re`` module, and names bound to its functions (``from re import``)."""
    modules, functions = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "re":
                    modules.add(alias.asname or "re")
        elif isinstance(node, ast.ImportFrom) and node.module == "re":
            for alias in node.names:
                if alias.name in RE_FUNCTIONS:
                    functions[alias.asname or alias.name] = alias.name
    return modules, functions


@dataclass
class CallSite:
    path: str
    line: int
    function: str  # enclosing function, or "<module>"
    re_function: str
    pattern: ast.expr
    flags: ast.expr | None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def call_sites(path: Path) -> list[CallSite]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    modules, functions = _re_aliases(tree)
    rel = str(path.relative_to(ROOT))
    found: list[CallSite] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = (
                child.name
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                else function
            )
            if isinstance(child, ast.Call):
                name = None
                func = child.func
                if (
                    isinstance(func, ast.Attribute)
                    and isinstance(func.value, ast.Name)
                    and func.value.id in modules
                    and func.attr in RE_FUNCTIONS
                ):
                    name = func.attr
                elif isinstance(func, ast.Name) and func.id in functions:
                    name = functions[func.id]
                if name is not None:
                    args = {kw.arg: kw.value for kw in child.keywords if kw.arg}
                    pattern = child.args[0] if child.args else args.get("pattern")
                    index = RE_FUNCTIONS[name]
                    flags = child.args[index] if len(child.args) > index else args.get("flags")
                    if pattern is None:
                        raise UncoveredPattern(f"{rel}:{child.lineno}: re.{name} without a pattern")
                    found.append(CallSite(rel, child.lineno, function, name, pattern, flags))
            visit(child, inner)

    visit(tree, "<module>")
    return found


def _walk_patterns(
    value: Any, depth: int = 0, seen: set[int] | None = None
) -> Iterator[re.Pattern[Any]]:
    """Compiled patterns in ``value`` and in what it holds (containers, object attributes)."""
    seen = set() if seen is None else seen
    if id(value) in seen or depth > 4:
        return
    seen.add(id(value))
    if isinstance(value, re.Pattern):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk_patterns(item, depth + 1, seen)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _walk_patterns(item, depth + 1, seen)
    elif hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        for name in value.__dataclass_fields__:
            yield from _walk_patterns(getattr(value, name, None), depth + 1, seen)


def discover() -> tuple[list[Found], list[str]]:
    """Every pattern of the code base, and the problems that leave some uncovered."""
    found: dict[tuple[Any, int], Found] = {}
    problems: list[str] = []

    def add(pattern: re.Pattern[Any], where: str) -> None:
        entry = found.setdefault((pattern.pattern, pattern.flags), Found(pattern))
        entry.where.add(where)

    for path in source_files():
        name = module_name(path)
        sites = call_sites(path)
        module = None
        if importable(name):
            module = importlib.import_module(name)
            for attr, value in vars(module).items():
                for pattern in _walk_patterns(value):
                    add(pattern, f"{name}.{attr}")
        for site in sites:
            try:
                patterns = _site_patterns(site, module)
            except UncoveredPattern as exc:
                problems.append(str(exc))
                continue
            for pattern in patterns:
                add(pattern, site.where)
    return sorted(found.values(), key=lambda f: min(f.where)), problems


def _site_patterns(site: CallSite, module: Any) -> list[re.Pattern[Any]]:
    namespace = vars(module) if module is not None else {"re": re}
    pattern_code = compile(ast.Expression(site.pattern), site.path, "eval")
    flags = 0
    if site.flags is not None:
        try:
            flags = eval(compile(ast.Expression(site.flags), site.path, "eval"), dict(namespace))
        except Exception as exc:  # noqa: BLE001 - any failure means: not covered
            raise UncoveredPattern(f"{site.where}: cannot evaluate the flags ({exc})") from None
    if isinstance(site.pattern, ast.Constant):
        return [re.compile(site.pattern.value, flags)]
    try:
        value = eval(pattern_code, dict(namespace))
    except Exception:  # noqa: BLE001 - built from local values: see DYNAMIC
        value = None
    if value is not None:
        return [value if isinstance(value, re.Pattern) else re.compile(value, flags)]
    how = DYNAMIC.get(f"{site.path}:{site.function}")
    if how is None:
        raise UncoveredPattern(
            f"{site.where}: the pattern of re.{site.re_function}() in {site.function} is built "
            f"from local values ({ast.unparse(site.pattern)[:80]}); add "
            f"'{site.path}:{site.function}' to DYNAMIC in tests/support/regex_audit.py"
        )
    try:
        if "collect" in how:
            return list(_walk_patterns(how["collect"]()))
        patterns = []
        names = list(how["locals"])
        for values in itertools.product(*(how["locals"][n] for n in names)):
            local = dict(zip(names, values, strict=True))
            value = eval(pattern_code, dict(namespace), local)
            patterns.append(value if isinstance(value, re.Pattern) else re.compile(value, flags))
    except Exception as exc:  # noqa: BLE001 - the code moved on: the entry must follow it
        raise UncoveredPattern(
            f"{site.where}: the DYNAMIC entry '{site.path}:{site.function}' no longer gives "
            f"its patterns ({type(exc).__name__}: {exc}); update it"
        ) from None
    return patterns


# --- adversarial inputs ------------------------------------------------------------------------

#: Characters tried as members of a class, besides ASCII and the pattern's own characters.
_EXTRA = "\xa0é\u00df中。．，\u3000\u2028\ufffdＡア한—’”«\u200b"
_CATEGORIES = {
    sre.CATEGORY_DIGIT: r"\d",
    sre.CATEGORY_NOT_DIGIT: r"\D",
    sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S",
    sre.CATEGORY_WORD: r"\w",
    sre.CATEGORY_NOT_WORD: r"\W",
    sre.CATEGORY_LINEBREAK: r"\n",
    sre.CATEGORY_NOT_LINEBREAK: r"[^\n]",
}
_KNOWN_AT = {
    sre.AT_BEGINNING,
    sre.AT_BEGINNING_LINE,
    sre.AT_BEGINNING_STRING,
    sre.AT_BOUNDARY,
    sre.AT_NON_BOUNDARY,
    sre.AT_END,
    sre.AT_END_LINE,
    sre.AT_END_STRING,
}


class _Builder:
    """Walks a parse tree: character classes, literal words and paths through the pattern."""

    def __init__(self, pattern: re.Pattern[Any]) -> None:
        self.is_bytes = isinstance(pattern.pattern, bytes)
        self.flags = pattern.flags
        if self.flags & re.LOCALE:
            raise UncoveredPattern("a locale-dependent pattern: its classes are unknown here")
        self.tree = sre_parse.parse(pattern.pattern, pattern.flags)
        own = {chr(c) for c in _literal_codes(self.tree)}
        ascii_chars = {chr(i) for i in range(1, 128)}
        universe = ascii_chars | own | (set() if self.is_bytes else set(_EXTRA))
        self.universe = sorted(c for c in universe if not self.is_bytes or ord(c) < 256)
        self.classes: list[list[str]] = []  # representatives of each class node
        self.words: list[str] = []  # runs of literal characters
        self.paths: list[list[list[str]]] = []  # paths: each step = chars that match it

    def build(self) -> None:
        self.paths = self._paths(list(self.tree), limit=6)

    # Each step of a path is the list of characters that can match it (first = preferred).
    def _paths(self, items: list[tuple[Any, Any]], limit: int) -> list[list[list[str]]]:
        paths: list[list[list[str]]] = [[]]
        word = ""
        for op, av in items:
            if op is sre.LITERAL:
                word += chr(av)
                paths = [[*p, [chr(av)]] for p in paths]
                continue
            if len(word) >= 2:
                self.words.append(word)
            word = ""
            if op in (sre.NOT_LITERAL, sre.IN, sre.ANY):
                reps = self._class_reps(op, av)
                self.classes.append(reps)
                paths = [[*p, reps] for p in paths]
            elif op is sre.SUBPATTERN:
                sub = self._paths(list(av[3]), limit)
                paths = [p + s for p in paths for s in sub][:limit]
            elif op is sre.ATOMIC_GROUP:
                sub = self._paths(list(av), limit)
                paths = [p + s for p in paths for s in sub][:limit]
            elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
                low, _high, body = av
                sub = self._paths(list(body), limit)
                times = max(1, min(low, 3))
                paths = [p + s * times for p in paths for s in sub][:limit]
            elif op is sre.BRANCH:
                subs = [s for alt in av[1] for s in self._paths(list(alt), limit)]
                paths = [p + s for p in paths for s in subs][:limit]
            elif op in (sre.ASSERT, sre.ASSERT_NOT):
                self._paths(list(av[1]), limit)  # their classes and words count; no width
            elif op is sre.AT:
                if av not in _KNOWN_AT:
                    raise UncoveredPattern(f"unknown anchor {av}")
            elif op is sre.GROUPREF:
                pass
            elif op is sre.GROUPREF_EXISTS:
                _group, yes, no = av
                subs = self._paths(list(yes), limit) + (
                    self._paths(list(no), limit) if no else [[]]
                )
                paths = [p + s for p in paths for s in subs][:limit]
            else:
                raise UncoveredPattern(f"no inputs for regex opcode {op}")
        if len(word) >= 2:
            self.words.append(word)
        return paths

    def _class_reps(self, op: Any, av: Any) -> list[str]:
        if op is sre.ANY:
            members = [c for c in self.universe if c != "\n" or self.flags & re.DOTALL]
        elif op is sre.NOT_LITERAL:
            members = [c for c in self.universe if ord(c) != av]
        else:
            members = [c for c in self.universe if self._in_set(av, c)]
        if not members:
            raise UncoveredPattern("a character class that no character matches")
        preferred = [c for c in (" ", "a", "0", ".", "中", "\n") if c in members]
        reps = list(dict.fromkeys([*preferred[:3], members[0], members[-1]]))
        return reps[:4]

    def _in_set(self, items: list[tuple[Any, Any]], char: str) -> bool:
        negate = False
        hit = False
        code = ord(char)
        for op, av in items:
            if op is sre.NEGATE:
                negate = True
            elif op is sre.LITERAL:
                hit |= code == av or (
                    bool(self.flags & re.IGNORECASE) and char.lower() == chr(av).lower()
                )
            elif op is sre.RANGE:
                lo, hi = av
                hit |= lo <= code <= hi or (
                    bool(self.flags & re.IGNORECASE)
                    and any(lo <= ord(v) <= hi for v in (char.lower(), char.upper()) if len(v) == 1)
                )
            elif op is sre.CATEGORY:
                if av not in _CATEGORIES:
                    raise UncoveredPattern(f"unknown character category {av}")
                probe = _CATEGORIES[av]
                flags = self.flags & (re.ASCII | re.IGNORECASE)
                if self.is_bytes:
                    hit |= re.fullmatch(probe.encode(), char.encode("latin-1"), flags) is not None
                else:
                    hit |= re.fullmatch(probe, char, flags) is not None
            else:
                raise UncoveredPattern(f"unknown item {op} in a character class")
        return hit != negate


def _literal_codes(items: Iterable[tuple[Any, Any]]) -> Iterator[int]:
    for op, av in items:
        if op in (sre.LITERAL, sre.NOT_LITERAL):
            yield av
        elif op is sre.IN:
            for iop, iav in av:
                if iop is sre.LITERAL:
                    yield iav
                elif iop is sre.RANGE:
                    yield from iav
        elif op is sre.SUBPATTERN:
            yield from _literal_codes(av[3])
        elif op is sre.ATOMIC_GROUP:
            yield from _literal_codes(av)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            yield from _literal_codes(av[2])
        elif op is sre.BRANCH:
            for alt in av[1]:
                yield from _literal_codes(alt)
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            yield from _literal_codes(av[1])
        elif op is sre.GROUPREF_EXISTS:
            yield from _literal_codes(av[1])
            if av[2]:
                yield from _literal_codes(av[2])


def _repeat(unit: str, size: int) -> str:
    return unit * max(1, size // max(1, len(unit)))


def _spread(items: list[Any], limit: int) -> list[Any]:
    """At most ``limit`` of ``items``, spread over the list (first and last kept)."""
    if len(items) <= limit:
        return items
    step = (len(items) - 1) / (limit - 1)
    return [items[round(i * step)] for i in range(limit)]


def adversarial_inputs(pattern: re.Pattern[Any], size: int = SIZE) -> list[tuple[str, Any]]:
    """``(description, input)`` pairs of about ``size`` characters that stress ``pattern``.

    Raises:
        UncoveredPattern: the pattern uses a construct the builder does not know.
    """
    builder = _Builder(pattern)
    builder.build()
    inputs: dict[str, str] = {}

    def put(label: str, text: str) -> None:
        inputs.setdefault(text, label)

    reps = list(dict.fromkeys(c for cls in builder.classes for c in cls))
    literal_chars = list(dict.fromkeys(c for w in builder.words for c in w))
    for char in _spread(reps, 16) + _spread(literal_chars, 8):
        put(f"run of {char!r}", _repeat(char, size) + STOP)
    words = list(dict.fromkeys(builder.words))
    longest = sorted(words, key=len, reverse=True)
    for word in list(dict.fromkeys(_spread(words, 8) + longest[:4])):
        put(f"{word[:30]!r} repeated", _repeat(word, size) + STOP)
    for path in builder.paths[:4]:
        preferred = [step[0] for step in path]
        cuts = _spread(list(range(1, len(path) + 1)), 12)
        for cut in cuts:
            prefix = "".join(preferred[:cut])
            put(f"prefix {prefix[:30]!r} repeated", _repeat(prefix, size) + STOP)
            if cut < len(path):
                for char in path[cut][:2]:
                    put(
                        f"prefix {prefix[:30]!r} then a run of {char!r}",
                        prefix + _repeat(char, size - len(prefix)) + STOP,
                    )
        # Alternations of neighbouring classes ("a a a", ". . .", "- - -").
        for first, second in itertools.pairwise(path):
            for a, b in itertools.product(first[:2], second[:2]):
                if a != b:
                    put(f"alternation {a + b!r}", _repeat(a + b, size) + STOP)
    if reps:
        put("all classes cycled", _repeat("".join(reps), size) + STOP)
    pairs = [(label, text) for text, label in inputs.items()]
    if builder.is_bytes:
        return [(label, text.encode("latin-1")) for label, text in pairs]
    return pairs


# --- timing ------------------------------------------------------------------------------------


class _Expired(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Expired


@dataclass
class Timing:
    found: Found
    inputs: int
    worst: float
    worst_input: str
    expired: list[str]


def time_pattern(found: Found, bound: float, size: int = SIZE) -> Timing:
    """Run ``finditer`` to the end and ``fullmatch`` on every adversarial input.

    An input not done within ``bound`` seconds of CPU time is interrupted (SIGVTALRM) and
    listed in ``expired``. Main thread only.
    """
    pattern = found.pattern
    cases = adversarial_inputs(pattern, size)
    previous = signal.signal(signal.SIGVTALRM, _alarm)
    worst, worst_input, expired = 0.0, "", []
    try:
        for label, text in cases:
            started = time.process_time()
            signal.setitimer(signal.ITIMER_VIRTUAL, bound)
            try:
                for _ in pattern.finditer(text):
                    pass
                pattern.fullmatch(text)
            except _Expired:
                expired.append(label)
                continue
            finally:
                signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            elapsed = time.process_time() - started
            if elapsed > worst:
                worst, worst_input = elapsed, label
    finally:
        signal.signal(signal.SIGVTALRM, previous)
    return Timing(found, len(cases), worst, worst_input, expired)


@contextlib.contextmanager
def time_limit(seconds: float, what: str = "the call") -> Iterator[None]:
    """Fail (``AssertionError``) when the block uses more than ``seconds`` of CPU time.

    SIGVTALRM interrupts even a regular expression, which holds the GIL: a test of a stalling
    pattern fails after ``seconds`` instead of hanging for minutes. CPU time of this process,
    so a machine loaded by others does not make it fail. Main thread only.
    """

    def expire(signum: int, frame: Any) -> None:
        raise AssertionError(f"{what} used more than {seconds:g} s of CPU")

    previous = signal.signal(signal.SIGVTALRM, expire)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)


def main(argv: list[str]) -> int:
    bound = float(argv[1]) if len(argv) > 1 else 1.0
    patterns, problems = discover()
    failed = 0
    for found in patterns:
        timing = time_pattern(found, bound)
        state = (
            f"EXPIRED on {len(timing.expired)}: {timing.expired[:3]}" if timing.expired else "ok"
        )
        failed += bool(timing.expired)
        print(
            f"{timing.worst * 1000:8.1f} ms  {timing.inputs:3d} inputs  {state:<10} "
            f"{found.label()}\n{'':30}{', '.join(sorted(found.where))}"
        )
    for problem in problems:
        print("UNCOVERED:", problem)
    print(f"{len(patterns)} patterns, {failed} too slow, {len(problems)} uncovered")
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
