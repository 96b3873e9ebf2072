"""`python -m services.analyzer`: run one analyzer worker (scale by running more)."""

from newsflow.worker import run
from services.analyzer.main import spec

run(spec)
