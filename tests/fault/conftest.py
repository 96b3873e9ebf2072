"""The fault test is slow and kills processes: it runs only when asked (``-m fault``)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fault: kills workers and restarts Redis/MongoDB under load (make test-fault)"
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fault-seed",
        dest="fault_seed",
        default=None,
        help="seed of the fault plan of test_faults.py (default: NEWSFLOW_FAULT_SEED, else 1)",
    )
