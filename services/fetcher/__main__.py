"""`python -m services.fetcher`: run one fetcher worker (scale by running more)."""

from newsflow.runtime.worker import run

from .main import spec

# Guarded: multiprocessing (the extractor's process pool) may re-import this module.
if __name__ == "__main__":
    run(spec)
