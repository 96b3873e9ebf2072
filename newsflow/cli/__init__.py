"""The ``newsflow`` command line and the embedded system it runs (``newsflow up``)."""
