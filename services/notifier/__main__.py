"""`python -m services.notifier`: run one notifier (scale by running more)."""

from newsflow.runtime.worker import run

from .main import spec

if __name__ == "__main__":
    run(spec)
