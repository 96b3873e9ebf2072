"""The extractor: ``PageFetched`` in, the article's text and metadata stored, ``TextExtracted`` out."""
