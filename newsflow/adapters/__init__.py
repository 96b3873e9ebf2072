"""Adapters to the outside world: the MongoDB store, URL intake on Redis, LLM providers."""
