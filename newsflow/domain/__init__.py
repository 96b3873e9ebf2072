"""What an article and a message are, and the pipeline they go through. No I/O.

``contracts`` (messages, stage results, statuses), ``pipeline`` (streams, services, stages:
declared once), ``article`` (the stored article, typed), ``urls``, ``votes``.
"""
