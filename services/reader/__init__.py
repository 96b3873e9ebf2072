"""The reader: news list and article pages, votes, and the HTTP API to publish and query."""
