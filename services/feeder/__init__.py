"""The feeder: polls the sources (feeds, sitemaps) and queues their new items on ``<prefix>:urls``."""
