"""The asset tables: every stock, index and crypto asset the analyzer knows, from data files.

The data lives in ``data/`` (see its README.md for the origin of each part):

``index_constituents.json``
    Large-cap index constituents, generated from the pytickersymbols package (``make assets``).
``indices.csv``, ``crypto.csv``, ``asia.csv``, ``listings.csv``, ``zh_names.csv``
    Hand-curated: indices, crypto assets, Asian listings, well-known listings outside the
    index tables, Chinese names of the others.
``common_words.txt``, ``words.txt``
    Names and tickers that are ordinary English words (generated from english-words; the
    second file holds hand-added ones).
``acronyms.txt``
    Upper-case abbreviations that are never a ticker when written alone (CEO, GDP, ETF...).
``shops.txt``
    Symbols of retailers and marketplaces: the seller named in a deal is not the subject.

Each asset has a canonical ``symbol`` (Yahoo style: ``AAPL``, ``0700.HK``, ``600519.SS``,
``^GSPC``, ``BTC``), its other listings (``TSM`` for ``2330.TW``), English names and Chinese
names. A name is *ambiguous* when it is an ordinary word or another thing's name ("Apple",
"Amazon", "苹果", "Cosmos"): marked ``~`` in the curated files or listed in
``common_words.txt``; the matcher counts it only with confirming context.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal, cast

DATA = Path(__file__).resolve().parent / "data"
CURATED = ("indices.csv", "crypto.csv", "asia.csv", "listings.csv", "zh_names.csv")  # in this order

Kind = Literal["stock", "index", "crypto"]
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass
class Asset:
    symbol: str
    name: str
    kind: Kind
    market: str
    #: English names matched case-insensitively (distinctive: "Nvidia", "Home Depot").
    names: set[str] = field(default_factory=set)
    #: English names matched as written and only with context ("Apple", "Amazon").
    context_names: set[str] = field(default_factory=set)
    #: Chinese names matched as substrings; ``zh_context`` only with context (苹果).
    zh: set[str] = field(default_factory=set)
    zh_context: set[str] = field(default_factory=set)
    #: Codes that mean this asset: the symbol and its other listings (``TSM``, ``9988.HK``).
    codes: set[str] = field(default_factory=set)
    #: Words that, anywhere in an article, confirm an ambiguous name ("iPhone" for Apple).
    clues: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class AssetTable:
    assets: dict[str, Asset]
    #: Upper-case code -> symbol (``AAPL``, ``0700.HK``, ``TSM``, ``.DJI``).
    codes: dict[str, str]
    #: Lower-cased ordinary English words among names and tickers.
    common_words: frozenset[str]
    acronyms: frozenset[str]
    #: Symbols of shops: named as the seller in a deal, they are not the subject (``shops.txt``).
    shops: frozenset[str] = frozenset()
    #: Lower-cased names removed with ``-Name`` ("msci"): the same code is not taken alone.
    removed: frozenset[str] = frozenset()

    def kind(self, symbol: str) -> Kind | None:
        asset = self.assets.get(symbol)
        return asset.kind if asset else None


def _split(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split(";") if part.strip()]


def _lines(name: str) -> list[str]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _add_name(asset: Asset, raw: str, common: frozenset[str], *, curated: bool) -> None:
    """Add one name. Curated names marked ``~`` need context; a name derived from the index
    tables that is an ordinary word ("News" of News Corp, "Partners" of Partners Group) is
    dropped: only its full form ("News Corp") is kept."""
    ambiguous = raw.startswith("~")
    name = raw.lstrip("~").strip()
    if not name:
        return
    if _CJK.search(name):
        (asset.zh_context if ambiguous else asset.zh).add(name)
        return
    if not curated and " " not in name and (name.lower() in common or len(name) < 3):
        return
    if ambiguous or name.lower() in common or len(name) < 3:
        asset.context_names.add(name)
    else:
        asset.names.add(name)


@cache
def load_table() -> AssetTable:
    """Read every data file once (about 10 ms and a few MB)."""
    common = frozenset(_lines("common_words.txt")) | frozenset(_lines("words.txt"))
    acronyms = frozenset(_lines("acronyms.txt"))
    assets: dict[str, Asset] = {}
    owner: dict[str, str] = {}  # listing code -> symbol that claims it
    asset: Asset | None
    data = json.loads((DATA / "index_constituents.json").read_text(encoding="utf-8"))
    for entry in data["assets"]:
        asset = Asset(entry["symbol"], entry["name"], "stock", entry["market"])
        asset.codes.update([entry["symbol"], *entry["listings"]])
        for name in [entry["name"], *entry["aliases"]]:
            _add_name(asset, name, common, curated=False)
        assets[asset.symbol] = asset
    curated_names: dict[str, str] = {}
    removed: set[str] = set()
    for file in CURATED:
        for row in csv.DictReader(_lines(file)):
            symbol = row["symbol"]
            asset = assets.get(symbol)
            if asset is not None and asset.kind != row["kind"]:
                # A crypto ticker that is also a listed company's (STX: Stacks and Seagate):
                # the company keeps it, the crypto asset is stored as STX-USD.
                symbol = f"{symbol}-USD"
                asset = assets.get(symbol)
                row = {**row, "listings": ""}
            if asset is None:
                kind = cast(Kind, row["kind"])  # the curated files hold the three kinds only
                asset = Asset(symbol, row["name"] or symbol, kind, row["market"])
                assets[symbol] = asset
            else:
                asset.name = row["name"] or asset.name
                asset.market = row["market"] or asset.market
            asset.codes.add(symbol)
            asset.codes.update(_split(row["listings"]))
            names = ([row["name"]] if row["name"] else []) + _split(row["aliases"])
            names += _split(row["zh_hans"]) + _split(row["zh_hant"])
            for name in [n for n in names if n.startswith("-")]:
                removed.add(name[1:].lower())
                # "-Nasdaq": a name derived from the index tables that is not to be used.
                for group in (asset.names, asset.context_names):
                    group.discard(name[1:])
            names = [n for n in names if not n.startswith("-")]
            for name in names:
                _add_name(asset, name, common, curated=True)
                curated_names[name.lstrip("~").lower()] = symbol
            for code in [symbol, *_split(row["listings"])]:
                owner[code.upper()] = symbol
    # A curated row that lists another entry's symbol as one of its listings (ASML.AS lists
    # ASML, a NASDAQ-100 entry of its own), or whose symbol is one of another entry's
    # listings (VOW3.DE, the shares the press quotes, is a listing of the DAX entry VOW.DE):
    # one company, one entry, under the curated symbol and, when the row names none, the
    # entry's name (the reader showed "VOW3.DE" as the company's name, and "Volkswagen Group"
    # found VOW.DE: outside review).
    merges = [(code, symbol) for code, symbol in owner.items() if code != symbol]
    listed_under = {
        code.upper(): entry.symbol
        for entry in assets.values()
        if entry.symbol not in owner
        for code in entry.codes
        if code != entry.symbol
    }
    merges += [(listed_under[s], s) for s in set(owner.values()) if s in listed_under]
    for code, symbol in merges:
        other = assets.get(code)
        if other is not None and symbol in assets and other is not assets[symbol]:
            keep = assets[symbol]
            keep.names |= other.names
            keep.context_names |= other.context_names
            keep.zh |= other.zh
            keep.zh_context |= other.zh_context
            keep.codes |= other.codes
            if keep.name == keep.symbol:
                keep.name = other.name
            del assets[code]
    for row in csv.DictReader(_lines("clues.csv")):
        if row["symbol"] in assets:
            assets[row["symbol"]].clues.update(_split(row["clues"]))
    # A name marked ambiguous anywhere is ambiguous everywhere.
    for asset in assets.values():
        context = {n.lower() for n in asset.context_names}
        asset.names = {n for n in asset.names if n.lower() not in context}
        asset.zh -= asset.zh_context
    # A curated symbol or listing wins over the same code listed under another company
    # (pytickersymbols merges SoftBank Corp and SoftBank Group under one name), and a curated
    # name wins over the same name derived for another company.
    for asset in assets.values():
        asset.codes = {c for c in asset.codes if owner.get(c.upper(), asset.symbol) == asset.symbol}
        for name_set in (asset.names, asset.context_names, asset.zh, asset.zh_context):
            for name in list(name_set):
                claimed = curated_names.get(name.lower())
                if claimed is not None and claimed != asset.symbol:
                    name_set.discard(name)
    codes: dict[str, str] = {}
    for symbol in sorted(assets, key=lambda s: (assets[s].kind != "stock", s)):
        for code in sorted(assets[symbol].codes):
            codes.setdefault(code.upper(), symbol)
    shops = frozenset(_lines("shops.txt"))
    return AssetTable(assets, codes, common, acronyms, shops, frozenset(removed))


def asset_kind(symbol: str) -> Kind | None:
    """``stock``, ``index`` or ``crypto`` for a known symbol, else None."""
    return load_table().kind(symbol)


def chinese_names() -> Iterable[str]:
    """Every Chinese name of every asset (for the keyword segmenter's dictionary)."""
    for asset in load_table().assets.values():
        yield from asset.zh
        yield from asset.zh_context
