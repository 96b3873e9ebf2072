"""`python -m services.fetcher`: run one fetcher worker (scale by running more)."""

from newsflow.worker import run
from services.fetcher.main import spec

run(spec)
