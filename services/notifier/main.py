"""Wiring of the notifier worker."""

from __future__ import annotations

from newsflow.adapters.alerts import AlertStore
from newsflow.adapters.webhooks import WebhookSender
from newsflow.domain.pipeline import NOTIFIER
from newsflow.runtime.worker import ServiceSpec
from newsflow.settings import Settings

from .handlers import Alerting, give_up, notify


async def open_alerting(settings: Settings) -> Alerting:
    alerts = AlertStore.connect(settings)
    await alerts.ensure_indexes()
    return Alerting(alerts=alerts, sender=WebhookSender(settings), owner=settings.consumer)


spec = ServiceSpec(service=NOTIFIER, handle=notify, open_resources=open_alerting, on_dead=give_up)
