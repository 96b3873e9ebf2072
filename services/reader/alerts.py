"""Routing of the alert rules: the JSON API (``/api/alerts``) and the page (``/alerts``).

Rules are private configuration: every call, reads included, needs the writer's token (or
the session a browser gets for it) when ``NEWSFLOW_API_TOKEN`` is set. A rule's secret is in
the answer of its creation only; webhook URLs are shown as their host (chat webhooks carry
their credential in the path).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from newsflow.adapters.alerts import AlertStore, AmbiguousRule, RuleNotFound
from newsflow.adapters.webhooks import WebhookSender, send_test
from newsflow.domain.validation import describe
from newsflow.settings import Settings
from newsflow.stages.alerts import (
    FORMATS,
    AlertRule,
    LastFailure,
    PayloadFormat,
    RuleSpec,
    redact_url,
    sample_subject,
)

from .api import WRITE_ERRORS
from .models import ErrorBody
from .pages import _ctx, _form, _require_writer, templates
from .security import require_writer

RuleId = Annotated[
    str,
    Path(pattern=r"^[0-9a-f]{4,12}$", description="the rule's id, or a prefix of 4+ digits"),
]


def _missing(exc: RuleNotFound) -> HTTPException:
    """404 for no such rule, 400 for a prefix of several (as for an article's id)."""
    return HTTPException(400 if isinstance(exc, AmbiguousRule) else 404, str(exc))


ERRORS: dict[int | str, dict[str, Any]] = {
    **WRITE_ERRORS,
    400: {"model": ErrorBody, "description": "an id prefix of several rules (they are listed)"},
    404: {"model": ErrorBody, "description": "no such rule"},
    422: {"model": ErrorBody, "description": "invalid rule (the reason says why)"},
}
router = APIRouter(
    prefix="/api/alerts", dependencies=[Depends(require_writer)], responses=ERRORS, tags=["alerts"]
)
pages_router = APIRouter(include_in_schema=False)


class FailureView(BaseModel):
    article_id: str
    state: str
    reason: str | None
    at: datetime | None


class RuleView(BaseModel):
    """A rule as the API shows it: no secret, the webhook as its host."""

    id: str
    name: str
    criteria: list[str]
    symbols: list[str]
    categories: list[str]
    languages: list[str]
    sources: list[str]
    keywords: list[str]
    direction: str | None
    min_confidence: float | None
    min_important: int
    url: str
    format: PayloadFormat
    enabled: bool
    created_at: datetime
    deliveries: int
    last_delivery_at: datetime | None
    failures: int
    last_failure: LastFailure | None
    recent_failures: list[FailureView]


class RuleList(BaseModel):
    items: list[RuleView]


class RuleCreated(BaseModel):
    rule: RuleView
    #: The HMAC-SHA256 key of the rule's signatures: shown here only.
    secret: str


class TestResult(BaseModel):
    ok: bool
    detail: str


def alerts_of(request: Request) -> AlertStore:
    return request.app.state.alerts


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


async def view(alerts: AlertStore, rule: AlertRule) -> dict[str, Any]:
    failures = [
        {"article_id": d.article_id, "state": d.state, "reason": d.reason, "at": d.updated_at}
        for d in await alerts.recent_failures(rule.id, 5)
    ]
    data = rule.model_dump(exclude={"secret", "url", "chat_id"})
    return {
        **data,
        "url": redact_url(rule.url),
        "criteria": rule.criteria(),
        "recent_failures": failures,
    }


async def create(request: Request, spec: RuleSpec) -> AlertRule:
    """Vet the webhook URL (what can be told before connecting) and store the rule."""
    sender = WebhookSender(settings_of(request))
    try:
        refused = sender.check(spec.url)
    finally:
        await sender.aclose()
    if refused:
        raise HTTPException(422, f"url: {refused}")
    return await alerts_of(request).add(spec)


async def _rule(request: Request, rule_id: str) -> AlertRule:
    try:
        return await alerts_of(request).rule(rule_id)
    except RuleNotFound as exc:
        raise _missing(exc) from None


@router.get("", response_model=RuleList, summary="Alert rules with their deliveries and failures")
async def list_rules(request: Request) -> dict[str, Any]:
    alerts = alerts_of(request)
    return {"items": [await view(alerts, r) for r in await alerts.rules()]}


@router.post("", response_model=RuleCreated, status_code=201, summary="Add an alert rule")
async def add_rule(spec: RuleSpec, request: Request) -> dict[str, Any]:
    """The answer holds the rule's signing secret: it is not shown again."""
    rule = await create(request, spec)
    return {"rule": await view(alerts_of(request), rule), "secret": rule.secret}


@router.get("/{rule_id}", response_model=RuleView, summary="One alert rule")
async def get_rule(rule_id: RuleId, request: Request) -> dict[str, Any]:
    return await view(alerts_of(request), await _rule(request, rule_id))


@router.delete("/{rule_id}", status_code=204, summary="Remove an alert rule")
async def delete_rule(rule_id: RuleId, request: Request) -> Response:
    try:
        await alerts_of(request).remove(rule_id)
    except RuleNotFound as exc:
        raise _missing(exc) from None
    return Response(status_code=204)


@router.post("/{rule_id}/test", response_model=TestResult, summary="Send a signed test alert now")
async def test_rule(rule_id: RuleId, request: Request) -> dict[str, Any]:
    rule = await _rule(request, rule_id)
    ok, detail = await send_test(settings_of(request), rule, sample_subject(rule))
    return {"ok": ok, "detail": detail}


# --- the page --------------------------------------------------------------------------------

_LISTS = ("symbols", "categories", "languages", "sources", "keywords")


def spec_from_form(form: dict[str, str]) -> RuleSpec:
    """A rule from the page's form: lists are comma-separated (keywords too)."""
    data: dict[str, Any] = {
        k: [v.strip() for v in form.get(k, "").split(",") if v.strip()] for k in _LISTS
    }
    data.update(
        name=form.get("name", ""),
        url=form.get("url", ""),
        format=form.get("format") or "json",
        chat_id=form.get("chat_id") or None,
        direction=form.get("direction") or None,
        min_confidence=form.get("min_confidence") or None,
        min_important=form.get("min_important") or 0,
    )
    return RuleSpec.model_validate(data)


async def _page(request: Request, **extra: Any) -> Response:
    ctx = _ctx(request, formats=FORMATS, **extra)
    rules = []
    if ctx["can_write"]:
        alerts = alerts_of(request)
        rules = [await view(alerts, r) for r in await alerts.rules()]
    status = 422 if extra.get("errors") else 200
    return templates.TemplateResponse(
        request, "alerts.html", {**ctx, "rules": rules}, status_code=status
    )


@pages_router.get("/alerts", response_class=HTMLResponse)
async def alerts_page(request: Request) -> Response:
    return await _page(request)


@pages_router.post("/alerts", response_class=HTMLResponse)
async def add_rule_form(request: Request) -> Response:
    await _require_writer(request)
    form = await _form(request)
    try:
        spec = spec_from_form(form)
    except ValidationError as exc:
        return await _page(request, errors=describe(exc.errors()), form=form)
    try:
        rule = await create(request, spec)
    except HTTPException as exc:
        return await _page(request, errors=[str(exc.detail)], form=form)
    return await _page(request, created=rule)


@pages_router.post("/alerts/{rule_id}/remove")
async def remove_rule_form(rule_id: RuleId, request: Request) -> Response:
    await _require_writer(request)
    try:
        await alerts_of(request).remove(rule_id)
    except RuleNotFound as exc:
        raise _missing(exc) from None
    return RedirectResponse("/alerts", status_code=303)


@pages_router.post("/alerts/{rule_id}/test", response_class=HTMLResponse)
async def test_rule_form(rule_id: RuleId, request: Request) -> Response:
    await _require_writer(request)
    rule = await _rule(request, rule_id)
    ok, detail = await send_test(settings_of(request), rule, sample_subject(rule))
    return await _page(request, tested={"id": rule.id, "ok": ok, "detail": detail})
