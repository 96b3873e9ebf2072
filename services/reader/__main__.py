"""`python -m services.reader`: serve the pages and the JSON API with uvicorn."""

import uvicorn

from newsflow.settings import get_settings
from services.reader.main import create_app

settings = get_settings()
uvicorn.run(
    create_app(settings), host=settings.reader_host, port=settings.reader_port,
    proxy_headers=False, server_header=False, log_level="info",
)
