"""`python -m services.reader`: serve the pages and the JSON API with uvicorn."""

import uvicorn

from newsflow.runtime.logs import configure_logging
from newsflow.settings import get_settings

from .main import create_app

settings = get_settings()
config = uvicorn.Config(
    create_app(settings),
    host=settings.reader_host,
    port=settings.reader_port,
    proxy_headers=False,
    server_header=False,
    log_level="info",
)
# After uvicorn configured its loggers: credentials are masked in every line they write.
configure_logging(
    settings, loggers=("uvicorn", "uvicorn.error", "uvicorn.access"), service="reader"
)
uvicorn.Server(config).run()
