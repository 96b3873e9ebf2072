"""The stage worker runtime on Redis Streams (FastStream): claim, retry, dead letters, trim."""
