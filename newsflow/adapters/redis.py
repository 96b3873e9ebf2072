"""Connecting to Redis: one server (or a Sentinel/provider-managed primary), or a Redis Cluster.

Cluster mode is chosen by ``NEWSFLOW_REDIS_CLUSTER=true`` or a ``redis+cluster://`` (or
``rediss+cluster://``) URL naming any node of the cluster. Every Newsflow key shares the hash
tag of ``NEWSFLOW_STREAM_PREFIX`` (``{newsflow}:urls``, ``{newsflow}:stats``...), so all of them
live in one slot: on one primary, where every command, pipeline and transaction works as on a
single server. That runs Newsflow on managed cluster offerings unchanged; it does not spread
its load over the cluster (one slot is one primary's throughput).

- :func:`connect_redis`: redis-py's ``Redis``, or its ``RedisCluster`` (which routes every
  command by key slot and follows MOVED/ASK redirections);
- :func:`make_broker`: FastStream's ``RedisBroker``, or its ``RedisClusterBroker`` (0.7.8+,
  streams and consumer groups through ``RedisCluster``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis

from newsflow.settings import Settings

if TYPE_CHECKING:
    from faststream.redis import RedisBroker

#: Connections one client opens at most; a command past them waits up to ``POOL_WAIT`` seconds
#: for one to come free. redis-py's default pool instead fails at once ("Too many
#: connections"): 300 requests at once made the reader answer 503 to everyone (outside review).
POOL_SIZE = 100
POOL_WAIT = 10.0

#: URL schemes that mean a Redis Cluster, and the plain scheme redis-py is given instead.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def cluster_mode(settings: Settings) -> bool:
    """Whether ``settings`` name a Redis Cluster."""
    return settings.redis_cluster or urlsplit(settings.redis_url).scheme in CLUSTER_SCHEMES


def redis_url(settings: Settings) -> str:
    """The URL as redis-py reads it (``redis+cluster://`` becomes ``redis://``)."""
    parts = urlsplit(settings.redis_url)
    if parts.scheme in CLUSTER_SCHEMES:
        return urlunsplit(parts._replace(scheme=CLUSTER_SCHEMES[parts.scheme]))
    return settings.redis_url


def connect_redis(settings: Settings, **options: Any) -> Redis:
    """A client for the configured Redis (a ``RedisCluster`` in cluster mode), whose commands
    wait for a free connection rather than fail when :data:`POOL_SIZE` are busy.

    ``RedisCluster`` offers the commands Newsflow uses with the same signatures as ``Redis``
    (streams, hashes, ``SET NX``, pipelines of one slot), so callers are typed against
    ``Redis``.
    """
    if cluster_mode(settings):
        from redis.asyncio.cluster import RedisCluster

        return cast("Redis", RedisCluster.from_url(redis_url(settings), **options))
    pool = BlockingConnectionPool.from_url(
        redis_url(settings), max_connections=POOL_SIZE, timeout=POOL_WAIT, **options
    )
    return Redis.from_pool(pool)  # the client closes its pool


def make_broker(settings: Settings, **options: Any) -> RedisBroker:
    """FastStream's broker for the configured Redis (``RedisClusterBroker`` in cluster mode)."""
    from faststream.redis import RedisBroker, RedisClusterBroker

    if cluster_mode(settings):
        return RedisClusterBroker(redis_url(settings), **options)
    return RedisBroker(redis_url(settings), **options)
