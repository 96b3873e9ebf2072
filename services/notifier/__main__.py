"""`python -m services.notifier`: run one notifier (scale by running more)."""

from newsflow.runtime.worker import run
from services.notifier.main import spec

if __name__ == "__main__":
    run(spec)
