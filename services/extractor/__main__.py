"""`python -m services.extractor`: run one extractor worker (scale by running more)."""

from newsflow.worker import run
from services.extractor.main import spec

run(spec)
