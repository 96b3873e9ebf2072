"""`python -m services.feeder`: run one feeder replica (scale by running more)."""

from .main import run

if __name__ == "__main__":
    run()
