"""Put on ``PYTHONPATH`` (after the repository) for the processes the tests start: Python runs
this at start-up, so the workers and commands of a test get the loopback guard of
:mod:`tests.support.loopback` too."""

from tests.support import loopback

loopback.install()
