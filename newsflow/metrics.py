"""Prometheus metrics of every Newsflow process: the series, and the hooks that count them.

This module imports nothing of Newsflow, so every layer may call its hooks (the LLM client
in ``adapters``, the runtime, the services). Each worker serves the series on its own port
(``NEWSFLOW_METRICS_PORT``, 0 = off; :mod:`newsflow.runtime.health` is the small HTTP server
that also answers ``/healthz``); the reader serves them at its ``/metrics`` route too. The
queue and article gauges are refreshed by :mod:`newsflow.runtime.gauges`. FastStream's Prometheus middleware
(``faststream_received_*``, ``faststream_published_*``, labelled ``app_name`` = the service)
counts every message and times it; the series below are Newsflow's own. Every label has a
small, fixed set of values (a stage, a status, a reason class, a configured provider and
model): never a URL, an article id or free text, so the number of series stays bounded.

==========================================  ======================================================
series                                      meaning
==========================================  ======================================================
``newsflow_messages_processed_total``       messages a stage handled and acknowledged {stage}
``newsflow_messages_failed_total``          deliveries whose handling raised {stage}
``newsflow_messages_retried_total``         failed deliveries left pending for another try {stage}
``newsflow_messages_dead_lettered_total``   messages sent to the dead-letter stream {stage, reason}
``newsflow_message_handling_seconds``       handling time of one delivery {stage, result}
``newsflow_stage_outcomes_total``           what the claim protocol did with a message {stage, outcome}
``newsflow_fetch_results_total``            fetches by result class {result}
``newsflow_llm_requests_total``             LLM HTTP calls {purpose, provider, model, status}
``newsflow_llm_tokens_total``               tokens reported by the provider {purpose, provider, model, kind}
``newsflow_llm_request_seconds``            LLM call latency {purpose, provider, model}
``newsflow_stream_length``                  entries in a stream {stream}
``newsflow_consumer_group_pending``         delivered, not yet acknowledged {stream, group}
``newsflow_consumer_group_lag``             not yet delivered to the group {stream, group}
``newsflow_consumer_group_consumers``       consumers in the group {stream, group}
``newsflow_dead_letter_entries``            entries in the dead-letter stream
``newsflow_articles``                       articles per status (a shared periodic count) {status}
``newsflow_articles_counted_timestamp_seconds``  when that count was made
``newsflow_dependency_up``                  1 while Redis / MongoDB answer the health check {dependency}
``newsflow_http_requests_total``            reader requests {method, route, status}
``newsflow_http_request_seconds``           reader request time {method, route}
``newsflow_feeder_events_total``            the feeder's polls and their results {event}
``newsflow_reconciler_repairs_total``       articles the reconciler drove on again {stage}
``newsflow_notifications_total``            webhook deliveries of the notifier {channel, outcome}
==========================================  ======================================================

Gauges about shared state (streams, groups, articles) are reported by several processes at
once; aggregate them with ``max``, never ``sum``.

Hooks for code that counts (call them, they never raise): :func:`llm_request`,
:func:`fetch_result`, :func:`stage_outcome`, :func:`delivery`, :func:`http_request`,
:func:`feeder_event`, :func:`reconciled`, :func:`notification`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from newsflow.domain.contracts import FetchResult

#: The registry every series lives in (prometheus_client's default, with its process and
#: platform collectors).
registry: CollectorRegistry = REGISTRY

#: Handling times reach the handler timeout (150 s by default): buckets up to 5 minutes.
_SLOW_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)

MESSAGES_PROCESSED = Counter(
    "newsflow_messages_processed",
    "Messages a stage handled and acknowledged.",
    ["stage"],
)
MESSAGES_FAILED = Counter(
    "newsflow_messages_failed",
    "Deliveries whose handling raised (each failed attempt counts).",
    ["stage"],
)
MESSAGES_RETRIED = Counter(
    "newsflow_messages_retried",
    "Failed deliveries left pending, to be reclaimed and tried again.",
    ["stage"],
)
MESSAGES_DEAD = Counter(
    "newsflow_messages_dead_lettered",
    "Messages moved to the dead-letter stream: malformed, or max_deliveries reached.",
    ["stage", "reason"],
)
HANDLING_SECONDS = Histogram(
    "newsflow_message_handling_seconds",
    "Time to handle one delivery, by whether it succeeded.",
    ["stage", "result"],
    buckets=_SLOW_BUCKETS,
)
STAGE_OUTCOMES = Counter(
    "newsflow_stage_outcomes",
    "What the claim protocol did with a message: done, failed (the article stops), duplicate, "
    "stale, passed (already past the stage), redelivered (result stored before), recovered.",
    ["stage", "outcome"],
)
FETCH_RESULTS = Counter(
    "newsflow_fetch_results",
    "Page fetches by result class (ok, refused, http_4xx, http_5xx, redirects, timeout, dns, "
    "network).",
    ["result"],
)
LLM_REQUESTS = Counter(
    "newsflow_llm_requests",
    "Chat-completions HTTP calls by result (ok, rate_limited, client_error, server_error, "
    "timeout, network, bad_answer).",
    ["purpose", "provider", "model", "status"],
)
LLM_TOKENS = Counter(
    "newsflow_llm_tokens",
    "Tokens the provider reported using (kind: prompt or completion).",
    ["purpose", "provider", "model", "kind"],
)
LLM_SECONDS = Histogram(
    "newsflow_llm_request_seconds",
    "Time of one chat-completions HTTP call.",
    ["purpose", "provider", "model"],
    buckets=_SLOW_BUCKETS,
)
STREAM_LENGTH = Gauge("newsflow_stream_length", "Entries in a stream (XLEN).", ["stream"])
GROUP_PENDING = Gauge(
    "newsflow_consumer_group_pending",
    "Entries delivered to the group and not yet acknowledged (XINFO GROUPS pending).",
    ["stream", "group"],
)
GROUP_LAG = Gauge(
    "newsflow_consumer_group_lag",
    "Entries not yet delivered to the group (XINFO GROUPS lag on Redis 7, counted otherwise).",
    ["stream", "group"],
)
GROUP_CONSUMERS = Gauge(
    "newsflow_consumer_group_consumers", "Consumers in the group.", ["stream", "group"]
)
DEAD_LETTERS = Gauge("newsflow_dead_letter_entries", "Entries in the dead-letter stream.")
ARTICLES = Gauge("newsflow_articles", "Articles per status (a periodic, shared count).", ["status"])
ARTICLES_COUNTED_AT = Gauge(
    "newsflow_articles_counted_timestamp_seconds",
    "Unix time of the article count behind newsflow_articles.",
)
DEPENDENCY_UP = Gauge(
    "newsflow_dependency_up",
    "1 while the dependency answered the last health check, else 0.",
    ["dependency"],
)
HTTP_REQUESTS = Counter(
    "newsflow_http_requests",
    "Reader HTTP requests by route template and status code.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "newsflow_http_request_seconds",
    "Reader HTTP request time by route template.",
    ["method", "route"],
)

FEEDER_EVENTS = Counter(
    "newsflow_feeder_events",
    "The feeder's work: requests, polls, not_modified (304 or unchanged), published (items "
    "queued), deferred (a host's limit), failed.",
    ["event"],
)
RECONCILER_REPAIRS = Counter(
    "newsflow_reconciler_repairs",
    "Articles the reconciler found stranded and drove on again, by the stage it sent them to.",
    ["stage"],
)
NOTIFICATIONS = Counter(
    "newsflow_notifications",
    "Webhook deliveries the notifier attempted, by format and outcome (sent, retry: a "
    "retryable failure, failed: given up).",
    ["channel", "outcome"],
)

#: The fixed values of ``newsflow_feeder_events_total{event}``.
FEEDER_EVENT_NAMES = ("requests", "polls", "not_modified", "published", "deferred", "failed")
#: The fixed values of ``newsflow_fetch_results_total{result}``.
FETCH_RESULT_CLASSES = (
    "ok",
    "refused",
    "http_4xx",
    "http_5xx",
    "redirects",
    "timeout",
    "dns",
    "network",
)
#: The fixed values of ``newsflow_llm_requests_total{status}``.
LLM_STATUSES = (
    "ok",
    "rate_limited",
    "client_error",
    "server_error",
    "timeout",
    "network",
    "bad_answer",
)
#: What the claim protocol can do with a message (``newsflow_stage_outcomes_total{outcome}``).
STAGE_OUTCOME_NAMES = (
    "done",
    "failed",
    "duplicate",
    "stale",
    "passed",
    "redelivered",
    "recovered",
)


# --- hooks -------------------------------------------------------------------------------------


def init_stage(stage: str) -> None:
    """Create a worker's series at 0, so that rates and alerts see them from the start."""
    for counter in (MESSAGES_PROCESSED, MESSAGES_FAILED, MESSAGES_RETRIED):
        counter.labels(stage)
    for reason in ("malformed", "max_deliveries"):
        MESSAGES_DEAD.labels(stage, reason)
    for outcome in STAGE_OUTCOME_NAMES:
        STAGE_OUTCOMES.labels(stage, outcome)
    if stage == "fetcher":
        for result in FETCH_RESULT_CLASSES:
            FETCH_RESULTS.labels(result)


def init_llm(purpose: str, provider: str, model: str) -> None:
    """Create a configured provider's series at 0 (every status, both token kinds)."""
    labels = (_label(purpose, 32), _label(provider), _label(model))
    for status in LLM_STATUSES:
        LLM_REQUESTS.labels(*labels, status)
    for kind in ("prompt", "completion"):
        LLM_TOKENS.labels(*labels, kind)


def _label(value: str | None, limit: int = 80) -> str:
    """A label value from configuration (provider, model): bounded, never empty."""
    return (value or "none")[:limit]


def llm_request(
    purpose: str,
    provider: str,
    model: str,
    status: str,
    tokens_in: int = 0,
    tokens_out: int = 0,
    seconds: float | None = None,
) -> None:
    """Count one chat-completions HTTP call.

    Args:
        purpose: what the call is for (``translate``, ``impact``...).
        provider: the provider's label (``openai``, ``gemini``, ``localhost:11434``): from
            configuration, so the set of values is small.
        model: the configured model.
        status: one of :data:`LLM_STATUSES` (anything else is counted as ``bad_answer``).
        tokens_in, tokens_out: the ``usage`` the provider reported (0 when it did not).
        seconds: the call's duration, when it got an answer or timed out.
    """
    labels = (_label(purpose, 32), _label(provider), _label(model))
    LLM_REQUESTS.labels(*labels, status if status in LLM_STATUSES else "bad_answer").inc()
    if tokens_in > 0:
        LLM_TOKENS.labels(*labels, "prompt").inc(tokens_in)
    if tokens_out > 0:
        LLM_TOKENS.labels(*labels, "completion").inc(tokens_out)
    if seconds is not None:
        LLM_SECONDS.labels(*labels).observe(seconds)


def fetch_class(
    status: str, http_status: int | None, error: str | None, *, refused: bool = False
) -> str:
    """The result class of a fetch (one of :data:`FETCH_RESULT_CLASSES`), from its outcome.

    The reason text is read only to tell timeouts and DNS failures from other network
    errors; it never becomes a label itself.
    """
    if status == "ok":
        return "ok"
    reason = (error or "").lower()
    if refused or reason.startswith(("refused", "not html")):
        return "refused"
    if "timed out" in reason or reason.startswith("no data for") or "no free connection" in reason:
        return "timeout"
    if "cannot resolve" in reason:
        return "dns"
    if http_status is not None and 300 <= http_status < 400:
        return "redirects"
    if http_status is not None and 400 <= http_status < 500 and reason.startswith("http "):
        return "http_4xx"
    if http_status is not None and http_status >= 500 and reason.startswith("http "):
        return "http_5xx"
    return "network"


def fetch_result(result: FetchResult, *, refused: bool = False) -> None:
    """Count one fetch by its result class (``refused``: the fetcher's policy said no)."""
    FETCH_RESULTS.labels(
        fetch_class(result.status, result.http_status, result.error, refused=refused)
    ).inc()


def stage_outcome(stage: str, outcome: str) -> None:
    """Count what the claim protocol did with one message (see :data:`STAGE_OUTCOME_NAMES`)."""
    STAGE_OUTCOMES.labels(stage, outcome if outcome in STAGE_OUTCOME_NAMES else "failed").inc()


def delivery(
    stage: str,
    result: Literal["processed", "retried", "dead_lettered", "failed"],
    seconds: float | None = None,
    *,
    reason: str = "",
) -> None:
    """Count a delivery's end: ``processed``, or ``failed`` then ``retried`` or
    ``dead_lettered`` (``reason``: ``malformed`` or ``max_deliveries``)."""
    if result == "processed":
        MESSAGES_PROCESSED.labels(stage).inc()
    elif result == "failed":
        MESSAGES_FAILED.labels(stage).inc()
    elif result == "retried":
        MESSAGES_RETRIED.labels(stage).inc()
    else:
        MESSAGES_DEAD.labels(stage, reason or "max_deliveries").inc()
    if seconds is not None:
        HANDLING_SECONDS.labels(stage, "ok" if result == "processed" else "error").observe(seconds)


def http_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one reader request (``route`` is the template, ``/api/articles/{ident}``)."""
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_SECONDS.labels(method, route).observe(seconds)


def feeder_event(name: str, n: int = 1) -> None:
    """Count the feeder's ``name`` (one of :data:`FEEDER_EVENT_NAMES`; others are ignored)."""
    if name in FEEDER_EVENT_NAMES and n > 0:
        FEEDER_EVENTS.labels(name).inc(n)


def reconciled(stage: str, n: int = 1) -> None:
    """The reconciler drove ``n`` stranded articles on to ``stage`` again."""
    if n > 0:
        RECONCILER_REPAIRS.labels(_label(stage, 40)).inc(n)


def notification(channel: str, outcome: str) -> None:
    """The notifier's delivery of one alert on ``channel`` (the rule's payload format:
    ``json``, ``telegram``, ``discord``, ``slack``): ``sent``, ``retry`` or ``failed``."""
    NOTIFICATIONS.labels(
        _label(channel, 40), outcome if outcome in ("sent", "retry", "failed") else "failed"
    ).inc()
