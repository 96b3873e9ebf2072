"""Regenerate the asset data files whose source is a package.

    python -m newsflow.stages.analysis.build_assets            # or: make assets
    python -m newsflow.stages.analysis.build_assets --check    # fail if the files are stale
    python -m newsflow.stages.analysis.build_assets --fill-traditional   # see below

Writes, in ``newsflow/stages/analysis/data/``:

``index_constituents.json``
    The constituents of large-cap stock indices, with names and listings, from the
    ``pytickersymbols`` package (:data:`INDICES`).
``common_words.txt``
    The single-word English names and the tickers of every data file that are ordinary English
    words (the ``web2`` list of the ``english-words`` package): the matcher counts them only with
    confirming context ("Apple", "Target", "ONE", "LINK").

The hand-curated files (``asia.csv``, ``crypto.csv``, ``indices.csv``, ``zh_names.csv``) are
edited by hand; ``--fill-traditional`` fills their empty traditional-Chinese cells from the
simplified ones with OpenCC (``s2twp``) and prints what it filled, for a person to check: the
forms actually used (輝達 for NVIDIA) must be written by hand. Needs the ``dev`` dependency group
(``uv sync``); the analyzer itself reads only the data files.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from importlib.metadata import version
from typing import Any

from newsflow.stages.analysis.assets import CURATED, DATA  # the files the analyzer reads

#: Large-cap indices of pytickersymbols (its small- and mid-cap indices are left out: their
#: thousand small companies add names like "Alpha" or "Heritage" for few articles).
INDICES = (
    "S&P 500",
    "NASDAQ 100",
    "DOW JONES",
    "S&P 100",
    "DAX",
    "TecDAX",
    "FTSE 100",
    "EURO STOXX 50",
    "CAC_40",
    "IBEX 35",
    "AEX",
    "BEL 20",
    "Switzerland 20",
    "OMX Stockholm 30",
    "OMX Helsinki 25",
    "NIKKEI 225",
)

#: Exchange names of pytickersymbols' Google codes ("NASDAQ:AAPL") and of Yahoo suffixes.
_GOOGLE_MARKETS = {"NASDAQ": "NASDAQ", "NYSE": "NYSE", "NYSEAMERICAN": "NYSE", "BATS": "NYSE"}
_SUFFIX_MARKETS = {
    "DE": "XETRA",
    "F": "FRA",
    "PA": "EPA",
    "L": "LSE",
    "T": "TSE",
    "AS": "AMS",
    "BR": "EBR",
    "MC": "BME",
    "SW": "SIX",
    "ST": "STO",
    "HE": "HEL",
    "MI": "BIT",
    "CO": "CSE",
    "LS": "ELI",
    "IR": "ISE",
    "VI": "VIE",
    "OL": "OSL",
}
#: Legal forms stripped from the end of a company's name to get the name the press writes.
_LEGAL_FORMS = sorted(
    [
        "Inc.",
        "Inc",
        "Incorporated",
        "Corporation",
        "Corp.",
        "Corp",
        "Company",
        "Co.",
        "Co",
        "Ltd.",
        "Ltd",
        "Limited",
        "plc",
        "PLC",
        "AG",
        "SE",
        "S.A.",
        "SA",
        "N.V.",
        "NV",
        "S.p.A.",
        "SpA",
        "ASA",
        "AB",
        "Oyj",
        "A/S",
        "KGaA",
        "& Co.",
        "& Co",
        "Holdings",
        "Holding",
        "Group",
        *(f"Class {c}" for c in "ABC"),
        *(f"(Class {c})" for c in "ABC"),
    ],
    key=len,
    reverse=True,
)


def strip_legal(name: str) -> str:
    """``name`` without its trailing legal forms ("Apple Inc." -> "Apple"), each preceded by
    white space and optionally a comma. A loop over the end, not a regex: linear."""
    while True:
        for form in _LEGAL_FORMS:
            head = name[: len(name) - len(form)]
            if name.endswith(form) and head[-1:].isspace():
                name = head.rstrip()
                name = name[:-1] if name.endswith(",") else name
                break
        else:
            return name


_WORD = re.compile(r"^[A-Za-z][a-z]+$")


def constituents() -> dict[str, Any]:
    """The index constituents, one entry per company, sorted by symbol."""
    from pytickersymbols import PyTickerSymbols  # dev dependency

    tickers = PyTickerSymbols()
    by_symbol: dict[str, dict[str, Any]] = {}
    for index in INDICES:
        for stock in tickers.get_stocks_by_index(index):
            symbol = (stock.get("symbol") or "").replace("-", ".")
            name = " ".join((stock.get("name") or "").split())
            if not symbol or not name:
                continue
            entry = by_symbol.setdefault(
                symbol,
                {
                    "symbol": symbol,
                    "name": name,
                    "market": _market(symbol, stock),
                    "aliases": [],
                    "listings": [],
                    "indices": [],
                },
            )
            if index not in entry["indices"]:
                entry["indices"].append(index)
            for listing in stock.get("symbols") or []:
                code = (listing.get("yahoo") or "").replace("-", ".")
                # Frankfurt copies (".F") are never what the press quotes.
                if code and code != symbol and not code.endswith(".F"):
                    entry["listings"].append(code)
    # One company, two share classes listed under one name (Alphabet GOOGL/GOOG): one entry.
    by_name: dict[str, dict[str, Any]] = {}
    for symbol in sorted(by_symbol, key=lambda s: (len(s), s)):
        entry = by_symbol[symbol]
        first = by_name.setdefault(entry["name"], entry)
        if first is not entry:
            first["listings"].append(symbol)
            first["listings"].extend(entry["listings"])
            first["indices"] = sorted(set(first["indices"]) | set(entry["indices"]))
            del by_symbol[symbol]
    for entry in by_symbol.values():
        short = strip_legal(entry["name"]).strip(" ,")
        short = short.removeprefix("The ")
        if short != entry["name"] and (len(short) >= 3 or any(c.isdigit() for c in short)):
            entry["aliases"].append(short)
        entry["listings"] = sorted(set(entry["listings"]) - {entry["symbol"]})
    return {
        "source": f"pytickersymbols {version('pytickersymbols')}",
        "indices": list(INDICES),
        "assets": [by_symbol[s] for s in sorted(by_symbol)],
    }


def _market(symbol: str, stock: dict[str, Any]) -> str:
    if "." in symbol and symbol.rsplit(".", 1)[1] in _SUFFIX_MARKETS:
        return _SUFFIX_MARKETS[symbol.rsplit(".", 1)[1]]
    for listing in stock.get("symbols") or []:
        exchange = (listing.get("google") or "").split(":")[0]
        if exchange in _GOOGLE_MARKETS:
            return _GOOGLE_MARKETS[exchange]
    return "US"


def read_curated(name: str) -> list[dict[str, str]]:
    """Rows of a hand-curated CSV file (comment lines start with '#')."""
    lines = [
        line
        for line in (DATA / name).read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    return list(csv.DictReader(lines))


def common_words(tables: dict[str, Any]) -> list[str]:
    """Names and tickers, lower-cased, that are ordinary English words."""
    from english_words import get_english_words_set  # dev dependency

    words = get_english_words_set(["web2"], lower=True)
    candidates: set[str] = set()
    for entry in tables["assets"]:
        candidates.update([entry["symbol"], entry["name"], *entry["aliases"], *entry["listings"]])
    for name in CURATED:
        for row in read_curated(name):
            candidates.add(row["symbol"])
            candidates.update(a.lstrip("~") for a in _split(row["aliases"]))
            candidates.update(_split(row["listings"]))
            if row["name"]:
                candidates.add(row["name"])
    found = set()
    for candidate in candidates:
        if _WORD.match(candidate) or (candidate.isalpha() and candidate.isupper()):
            word = candidate.lower()
            # Plurals too: "Partners" (Partners Group), "Stacks".
            if word in words or (word.endswith("s") and word[:-1] in words):
                found.add(word)
    return sorted(found)


def _split(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split(";") if part.strip()]


def fill_traditional() -> None:
    """Fill empty zh_hant cells of the curated files from zh_hans with OpenCC (s2twp)."""
    import opencc  # dev dependency

    converter = opencc.OpenCC("s2twp")
    for name in CURATED:
        path = DATA / name
        lines = path.read_text(encoding="utf-8").splitlines()
        out = []
        for line in lines:
            if line.startswith(("#", "symbol,")) or not line:
                out.append(line)
                continue
            row = next(csv.reader([line]))
            if row[5] and not row[6]:
                row[6] = ";".join(converter.convert(part) for part in _split(row[5]))
                print(f"{name}: {row[0]} {row[5]} -> {row[6]}")
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow(row)
            out.append(buffer.getvalue())
        path.write_text("\n".join(out) + "\n", encoding="utf-8")


def render() -> dict[str, str]:
    """The generated files' contents, by file name."""
    tables = constituents()
    return {
        "index_constituents.json": json.dumps(tables, ensure_ascii=False, indent=1) + "\n",
        "common_words.txt": "# Generated by `make assets` from english-words (web2): do not edit.\n"
        + "\n".join(common_words(tables))
        + "\n",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    parser.add_argument("--fill-traditional", action="store_true")
    args = parser.parse_args(argv)
    if args.fill_traditional:
        fill_traditional()
    stale = []
    for name, content in render().items():
        path = DATA / name
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            stale.append(name)
            if not args.check:
                path.write_text(content, encoding="utf-8")
    if args.check and stale:
        print(f"stale: {', '.join(stale)} (run `make assets`)", file=sys.stderr)
        return 1
    print(("stale: " if args.check else "written: ") + (", ".join(stale) or "nothing changed"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
