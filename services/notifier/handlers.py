"""The notifier's work: an analyzed article in, the webhooks of the rules it matches out.

For each matching rule: claim the (rule, article) delivery in MongoDB (so no other replica
sends it while the lease lives), send it signed with retries, record what came of it. A
delivery that may still succeed later (the receiver down, a lease another replica holds)
makes the handler raise: the message stays pending and is tried again after the claim idle
time, then dead-lettered, and :func:`give_up` marks what is left failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from newsflow import metrics
from newsflow.adapters.alerts import AlertStore, Claim
from newsflow.adapters.webhooks import Delivery, WebhookSender, page_base
from newsflow.domain.contracts import ArticleAnalyzed, Status
from newsflow.domain.urls import short_id
from newsflow.runtime.worker import ServiceContext
from newsflow.stages.alerts import (
    AlertRule,
    Subject,
    idempotency_key,
    matches,
    render,
    signed_headers,
    subject_of,
)

log = logging.getLogger("newsflow.notifier")

#: Added to the lease for clocks that disagree between replicas (seconds).
CLOCK_SKEW = 2.0


@dataclass
class Alerting:
    """The notifier's resources: the rules and deliveries, and the webhook sender."""

    alerts: AlertStore
    sender: WebhookSender
    #: This replica's name on the delivery records it claims.
    owner: str

    async def aclose(self) -> None:
        """Closed by the runtime when the worker stops."""
        await self.sender.aclose()
        self.alerts.close()


class AlertsPending(RuntimeError):
    """Some alerts of the article are to be tried again later (the message is retried)."""


async def notify(ctx: ServiceContext[Alerting], message: ArticleAnalyzed) -> None:
    article = await ctx.store.article(message.article_id)
    if article is None or article.status is not Status.ANALYZED:
        # Refreshed and on its way again (its new analysis emits another message), or lost
        # by MongoDB (the stages submit it again): nothing to alert on now.
        log.info(
            "notifier: article %s is %s; no alerts now",
            short_id(message.article_id),
            article.status.value if article else "missing",
        )
        await ctx.count("skipped")
        return
    subject = subject_of(article)
    settings = ctx.settings
    rules = await ctx.resources.alerts.candidates(subject.all_symbols, settings.alert_max_rules)
    if len(rules) >= settings.alert_max_rules:
        log.warning(
            "notifier: %s may match more than NEWSFLOW_ALERT_MAX_RULES=%d rules; "
            "only the first %d are checked",
            article.short_id,
            settings.alert_max_rules,
            settings.alert_max_rules,
        )
        await ctx.count("rules_cut")
    matched = [rule for rule in rules if matches(rule, subject)]
    if not matched:
        return
    deadline = time.monotonic() + settings.handler_timeout
    limit = asyncio.Semaphore(settings.alert_concurrency)

    async def one(rule: AlertRule) -> Claim | Delivery:
        async with limit:
            return await deliver(ctx, rule, subject, deadline)

    results = await asyncio.gather(*(one(rule) for rule in matched))
    sent = sum(isinstance(r, Delivery) and r.ok for r in results)
    later = [r for r in results if r is Claim.BUSY or (isinstance(r, Delivery) and r.retryable)]
    for _ in range(sent):
        await ctx.count("alerts_sent")
    if later:
        reasons = "; ".join(
            "another notifier is sending" if r is Claim.BUSY else str(r.reason) for r in later[:3]
        )
        raise AlertsPending(f"{len(later)} alert(s) of {article.short_id} to retry: {reasons}")


async def deliver(
    ctx: ServiceContext[Alerting], rule: AlertRule, subject: Subject, deadline: float
) -> Claim | Delivery:
    """One (rule, article) alert: claim it, send it, record the result."""
    res, settings = ctx.resources, ctx.settings
    key = idempotency_key(rule.id, subject.article_id)
    claim = await res.alerts.claim(
        key,
        rule_id=rule.id,
        article_id=subject.article_id,
        owner=res.owner,
        lease_seconds=settings.handler_timeout + CLOCK_SKEW,
    )
    if claim is not Claim.CLAIMED:
        return claim
    page = f"{page_base(settings)}/articles/{subject.article_id}"
    payload = render(rule, subject, page_url=page, key=key)
    result = await res.sender.deliver(
        rule.url,
        payload.body,
        lambda: signed_headers(rule.secret, payload.body, key),
        deadline=deadline,
    )
    metrics.notification(
        rule.format, "sent" if result.ok else "retry" if result.retryable else "failed"
    )
    if result.ok:
        await res.alerts.delivered(key, status=result.status, attempts=result.attempts)
        log.info(
            "notifier: alerted rule %s of %s (HTTP %s)", rule.id, subject.short_id, result.status
        )
    else:
        reason = result.reason or "failed"
        await res.alerts.failed(
            key,
            reason=reason,
            attempts=result.attempts,
            status=result.status,
            final=not result.retryable,
        )
        if not result.retryable:
            await ctx.count("alerts_failed")
        log.warning("notifier: rule %s, article %s: %s", rule.id, subject.short_id, reason)
    return result


async def give_up(
    ctx: ServiceContext[Alerting], article_id: str, generation: int | None, reason: str
) -> None:
    """The article's message was dead-lettered: its unfinished alerts have failed."""
    given_up = await ctx.resources.alerts.give_up(article_id, reason)
    log.error("notifier: gave up %d alert(s) of %s: %s", given_up, short_id(article_id), reason)
