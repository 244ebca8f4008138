"""The default cache's Redis backend: Django's, with its redis-py clients kept for the process.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` for every operation, and
redis-py fills ~170 response callbacks in each one: 0.22 ms of a 0.43 ms `cache.add` on the
bench machine, three times the Redis round trip itself (0.15 ms). A status change with
webhooks pays one `add` (the doorbell's flag) and an inbound post one rate-limit count, so
both keep one client per server instead. A redis-py client is thread-safe: each command takes
a connection from the pool the client shares with Django's.
"""

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _ClientKeepingCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ClientKeepingCacheClient

    def redis(self):
        """The redis-py client of the server the cache writes to, for what the cache API
        cannot say in one round trip (a pipeline). Its pool and timeouts are the cache's."""
        return self._cache.get_client(write=True)


def default_cache_redis():
    """The default cache's redis-py client, or None when the default cache is not Redis (the
    embedded default's local memory)."""
    default = caches["default"]
    return default.redis() if isinstance(default, RedisCache) else None
