"""The pipeline's Redis streams: their consumer groups exist before anything is published.

FastStream would create a group at ``$`` when its first subscriber starts, skipping every
entry added before; the groups of every declared consumer (:mod:`newsflow.domain.pipeline`)
are created here at ``0`` instead, by the workers at start-up and by the intake before it
publishes.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from newsflow.domain.pipeline import Streams


async def ensure_groups(redis: Redis, streams: Streams) -> None:
    """Create every consumed stream and its consumer group at ``0`` (idempotent)."""
    for group, stream in streams.inputs().items():
        try:
            await redis.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
