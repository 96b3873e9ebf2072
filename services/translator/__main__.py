"""`python -m services.translator`: run one translator worker (scale by running more)."""

from newsflow.worker import run
from services.translator.main import spec

run(spec)
