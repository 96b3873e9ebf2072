"""The fetcher: URLs in (``<prefix>:urls``), pages stored in MongoDB, ``PageFetched`` out."""
