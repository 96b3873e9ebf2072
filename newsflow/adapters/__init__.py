"""Adapters to the outside world: the MongoDB store (every query), the pipeline's Redis
streams and URL intake, LLM providers."""
