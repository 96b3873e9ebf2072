"""The fault test is slow and kills processes: it runs only when asked (``-m fault``)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fault: kills workers and restarts Redis/MongoDB under load (make test-fault)"
    )
