"""``newsflow alerts``: add, list, remove and test the alert rules.

Like the rest of the command line, this module imports only typer and rich (console, markup) at the
top: the rules' pydantic models, the settings and the database client are imported by the
command that needs them (``newsflow --help`` must start fast).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.markup import escape

from newsflow.cli import consoles, first_line, unreachable
from newsflow.domain.urls import short_id

if TYPE_CHECKING:
    from newsflow.adapters.alerts import AlertStore
    from newsflow.settings import Settings
    from newsflow.stages.alerts import AlertRule

#: The payload formats of ``--format`` (``newsflow.stages.alerts.FORMATS``; a unit test keeps
#: them the same without importing the rules here).
FORMAT_HELP = "payload: json, telegram, discord, slack"

app = typer.Typer(
    help="Alert rules: signed webhooks when a matching article is analyzed.", no_args_is_help=True
)
out, err = consoles()
T = TypeVar("T")


def _run(make: Callable[[Settings, AlertStore], Awaitable[T]]) -> T:
    # Imported here: the database and HTTP clients are not needed by every `newsflow` command.
    from newsflow.adapters.alerts import AlertStore, RuleNotFound
    from newsflow.settings import get_settings

    settings = get_settings()

    async def main() -> T:
        alerts = AlertStore.connect(settings)
        try:
            await alerts.ensure_indexes()
            return await make(settings, alerts)
        finally:
            alerts.close()

    try:
        return asyncio.run(main())
    except RuleNotFound as exc:
        err.print(f"[red]error:[/red] {exc.args[0]}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    except unreachable() as exc:
        err.print(f"[red]error:[/red] cannot reach MongoDB: {escape(first_line(exc))}")
        raise typer.Exit(3) from None


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


@app.command()
def add(
    url: Annotated[str, typer.Option(help="the webhook URL to POST to")],
    symbol: Annotated[
        list[str] | None, typer.Option(help="asset symbol (repeat for several)")
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="category, e.g. crypto or en_crypto")
    ] = None,
    language: Annotated[list[str] | None, typer.Option(help="original language, e.g. zh")] = None,
    source: Annotated[list[str] | None, typer.Option(help="source host, e.g. coindesk.com")] = None,
    keyword: Annotated[
        list[str] | None, typer.Option(help="word or phrase in keywords, titles or summary")
    ] = None,
    direction: Annotated[str | None, typer.Option(help="bullish, bearish or neutral")] = None,
    min_confidence: Annotated[
        float | None, typer.Option(help="impact confidence at least (0..1)")
    ] = None,
    min_important: Annotated[int, typer.Option(help="important votes at least")] = 0,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "json",
    chat_id: Annotated[
        str | None, typer.Option(help="Telegram chat id or @channel (telegram format)")
    ] = None,
    name: Annotated[str, typer.Option(help="a name for the rule")] = "",
) -> None:
    """Add a rule. Its signing secret is printed once: keep it for your receiver."""
    from pydantic import ValidationError

    from newsflow.stages.alerts import RuleSpec, redact_url

    try:
        spec = RuleSpec.model_validate(
            {
                "url": url,
                "symbols": symbol or [],
                "categories": category or [],
                "languages": language or [],
                "sources": source or [],
                "keywords": keyword or [],
                "direction": direction,
                "min_confidence": min_confidence,
                "min_important": min_important,
                "format": fmt,
                "chat_id": chat_id,
                "name": name,
            }
        )
    except ValidationError as exc:
        from newsflow.domain.validation import describe

        for line in describe(exc.errors()):
            err.print(f"[red]invalid[/red] {escape(line)}", highlight=False)
        raise typer.Exit(2) from None

    async def go(settings: Settings, alerts: AlertStore) -> AlertRule:
        from newsflow.adapters.webhooks import WebhookSender

        sender = WebhookSender(settings)
        try:
            refused = sender.check(spec.url)
        finally:
            await sender.aclose()
        if refused:
            err.print(f"[red]invalid[/red] url: {refused}", highlight=False)
            raise typer.Exit(2)
        return await alerts.add(spec)

    rule = _run(go)
    out.print(
        f"added rule {rule.id}: {'; '.join(rule.criteria())} -> {redact_url(rule.url)} "
        f"({rule.format})",
        highlight=False,
    )
    out.print(f"secret: {rule.secret}", highlight=False)
    err.print(
        "The secret signs every webhook of this rule (X-Newsflow-Signature); it is shown only now."
    )


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="rules as JSON (no secrets)")] = False,
) -> None:
    """Every rule with its deliveries, failures and the reasons of recent failures."""
    from rich.table import Table

    from newsflow.stages.alerts import redact_url

    async def go(_settings: Settings, alerts: AlertStore) -> list[tuple[AlertRule, list[str]]]:
        rows = []
        for rule in await alerts.rules():
            failures = [
                f"{_when(d.updated_at)} {short_id(d.article_id)} {d.state}: {d.reason}"
                for d in await alerts.recent_failures(rule.id, 3)
            ]
            rows.append((rule, failures))
        return rows

    rows = _run(go)
    if as_json:
        data = [
            {
                **rule.model_dump(mode="json", exclude={"secret", "url"}),
                "url": redact_url(rule.url),
                "recent_failures": failures,
            }
            for rule, failures in rows
        ]
        out.print_json(json.dumps(data, ensure_ascii=False))
        return
    if not rows:
        out.print("no alert rules (add one with `newsflow alerts add`)")
        return
    table = Table(box=None)
    table.add_column("id", no_wrap=True)
    for name in (
        "name",
        "criteria",
        "target",
        "delivered",
        "last delivery",
        "failures",
        "last failure",
    ):
        table.add_column(name)
    for rule, _ in rows:
        last = rule.last_failure
        table.add_row(
            rule.id,
            rule.name or "-",
            "; ".join(rule.criteria()),
            f"{redact_url(rule.url)} ({rule.format})",
            str(rule.deliveries),
            _when(rule.last_delivery_at),
            str(rule.failures),
            f"{_when(last.at)}: {last.reason}" if last else "-",
        )
    out.print(table, highlight=False)
    for rule, failures in rows:
        if failures:
            out.print(f"recent failures of {rule.id}:", highlight=False)
            for line in failures:
                out.print(f"  {line}", markup=False, highlight=False)


@app.command()
def remove(rule_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Delete a rule (and its delivery records)."""
    removed = _run(lambda _settings, alerts: alerts.remove(rule_id))
    out.print(f"removed rule {removed}")


@app.command()
def test(rule_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Send a signed test alert to the rule's webhook now and say what the receiver answered."""

    async def go(settings: Settings, alerts: AlertStore) -> tuple[bool, str]:
        from newsflow.adapters.webhooks import send_test
        from newsflow.stages.alerts import sample_subject

        rule = await alerts.rule(rule_id)
        return await send_test(settings, rule, sample_subject(rule))

    ok, words = _run(go)
    (out if ok else err).print(words, markup=False, highlight=False)
    if not ok:
        raise typer.Exit(1)
