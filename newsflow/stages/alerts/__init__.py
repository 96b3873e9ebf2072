"""Alerts: which analyzed articles a rule wants, and the signed webhook that tells it.

Plain logic, no I/O: the notifier worker, the CLI and the API use it like this::

    spec = RuleSpec(symbols=["BTC"], direction="bullish", url="https://...", format="slack")
    if matches(rule, subject):                                   # AlertRule, Subject
        payload = render(rule, subject, page_url=..., key=idempotency_key(rule.id, aid))
        headers = signed_headers(rule.secret, payload.body, key)
"""

from newsflow.stages.alerts._backoff import backoff_delay
from newsflow.stages.alerts._match import (
    Subject,
    keyword_found,
    matches,
    mismatch,
    sample_subject,
    subject_of,
)
from newsflow.stages.alerts._payloads import Payload, clean, render
from newsflow.stages.alerts._rules import (
    FORMATS,
    AlertRule,
    Direction,
    LastFailure,
    PayloadFormat,
    RuleSpec,
    redact_url,
)
from newsflow.stages.alerts._signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TOLERANCE,
    idempotency_key,
    new_secret,
    signature,
    signed_headers,
    verify,
)

__all__ = [
    "FORMATS",
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE",
    "AlertRule",
    "Direction",
    "LastFailure",
    "Payload",
    "PayloadFormat",
    "RuleSpec",
    "Subject",
    "backoff_delay",
    "clean",
    "idempotency_key",
    "keyword_found",
    "matches",
    "mismatch",
    "new_secret",
    "redact_url",
    "render",
    "sample_subject",
    "signature",
    "signed_headers",
    "subject_of",
    "verify",
]
