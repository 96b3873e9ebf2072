"""Every setting of Newsflow, read from ``NEWSFLOW_*`` environment variables (and ``.env``).

One flat class on purpose: a deployment sets plain variables (``NEWSFLOW_REDIS_URL``,
``NEWSFLOW_FETCH_MAX_BYTES``...) and every service reads the same names.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ProviderKind = Literal["none", "openai"]
#: How MongoDB acknowledges a write (see ``Settings.mongo_write_concern``).
WriteConcernKind = Literal["journaled", "majority", "fast"]


class ModelPrice(BaseModel):
    """A model's price per million tokens, in the currency you bill in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class Settings(BaseSettings):
    """Configuration shared by the workers, the CLI and the reader."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSFLOW_", env_file=".env", extra="ignore", frozen=True
    )

    # --- where the data lives -------------------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6379/0"
    mongo_url: str = "mongodb://127.0.0.1:27017"
    mongo_db: str = "newsflow"
    mongo_collection: str = "articles"
    #: When MongoDB acknowledges a write: ``journaled`` (w:1, j:true: once it is in the
    #: server's on-disk journal, so a crash of the server cannot lose it), ``majority``
    #: (w:majority, j:true: journaled on a majority of a replica set, so a failover cannot
    #: roll it back either), ``fast`` (the server's default write concern: a crash of a
    #: standalone server can lose the last acknowledged writes). See docs/reliability.md.
    mongo_write_concern: WriteConcernKind = "journaled"
    #: Prefix of every Redis key and stream name, so several deployments can share a Redis.
    #: The braces are a Redis Cluster hash tag: every key of the deployment lives in one slot
    #: (``{newsflow}:urls``, ``{newsflow}:stats``...). Before 0.2 it was ``newsflow``; see the
    #: README ("Redis Cluster") for existing deployments.
    stream_prefix: str = "{newsflow}"
    #: Talk to Redis as a Redis Cluster (also implied by a ``redis+cluster://`` URL).
    redis_cluster: bool = False
    #: Folder of the embedded run (`make up`): Redis and SecantusDB data, logs.
    data_dir: str = ".data"

    # --- delivery -------------------------------------------------------------------------
    #: Unique per replica and process; empty means hostname + pid.
    consumer_name: str = ""
    #: Pending entries idle this long are reclaimed by another consumer (milliseconds).
    claim_idle_ms: int = Field(default=180_000, ge=1_000)
    #: A handler never runs longer than this (seconds); must stay below claim_idle_ms, and
    #: above twice extract_timeout (a page may wait for a busy extraction process).
    handler_timeout: float = Field(default=150.0, gt=0)
    #: After this many deliveries a message goes to the dead-letter stream.
    max_deliveries: int = Field(default=5, ge=1)
    #: Messages handled at once by one worker process.
    concurrency: int = Field(default=8, ge=1)
    #: How often a worker trims its input stream of acknowledged entries (seconds).
    trim_interval: float = Field(default=10.0, gt=0)
    #: Time a worker allows its in-flight messages to finish on SIGTERM (seconds).
    graceful_timeout: float = Field(default=20.0, gt=0)
    #: File a worker touches every few seconds while Redis answers (`newsflow healthcheck`).
    heartbeat_file: str = "/tmp/newsflow-heartbeat"
    #: How often new entries are polled for, and pending ones looked for (milliseconds).
    poll_interval_ms: int = Field(default=1_000, ge=10)

    # --- reconciler (newsflow/runtime/reconcile.py) ---------------------------------------
    #: An article short of analyzed/failed that has not been updated for this long (seconds),
    #: and whose next message is neither pending nor waiting in its stage's stream, is driven
    #: on again. Must stay above the claim idle time (reclaiming comes first).
    reconcile_after: float = Field(default=900.0, gt=0)
    #: How often each stage worker sweeps for such articles (seconds); 0 turns it off.
    reconcile_interval: float = Field(default=60.0, ge=0)
    #: Most articles one sweep drives on per stage.
    reconcile_batch: int = Field(default=100, ge=1)
    #: Most entries of a stage's pending list, and of its undelivered backlog, one sweep reads;
    #: a stage with more is busy, not stranded, and is not swept.
    reconcile_scan: int = Field(default=1_000, ge=1)
    # --- observability --------------------------------------------------------------------
    #: Port of a worker's /metrics and /healthz (0 = off). The reader also serves /metrics on
    #: its own port; set this to serve them apart too (compose does, for Prometheus).
    metrics_port: int = Field(default=0, ge=0, le=65535)
    #: Address the metrics port listens on (``0.0.0.0`` in a container).
    metrics_host: str = "127.0.0.1"
    #: How often stream and consumer-group gauges are refreshed (seconds).
    metrics_interval: float = Field(default=15.0, gt=0)
    #: How often the articles are counted per status, once for the whole deployment (seconds).
    metrics_articles_interval: float = Field(default=60.0, gt=0)
    #: ``text`` (one readable line) or ``json`` (one JSON object a line).
    log_format: Literal["text", "json"] = "text"
    #: DEBUG, INFO, WARNING, ERROR.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    # --- fetching -------------------------------------------------------------------------
    fetch_connect_timeout: float = 5.0
    fetch_read_timeout: float = 10.0
    #: Deadline for one whole page, all redirects and body included (seconds).
    fetch_deadline: float = 20.0
    #: Cap on the decoded (decompressed) body, bytes.
    fetch_max_bytes: int = 5 * 1024 * 1024
    fetch_max_redirects: int = 5
    fetch_retries: int = 2
    fetch_backoff: float = 1.0
    #: Longest Retry-After the fetcher honours before giving up (seconds).
    fetch_max_retry_after: float = 30.0
    fetch_user_agent: str = "Newsflow/0.1 (+https://github.com/newsflow/newsflow)"
    fetch_allowed_ports: Annotated[list[int], NoDecode] = [80, 443, 8080, 8443]
    #: CIDR ranges that are reachable although not public (tests, private deployments).
    fetch_allowed_networks: Annotated[list[str], NoDecode] = []

    # --- sources (the feeder) ------------------------------------------------------------
    #: Polling interval of a new source without --interval (seconds); then adapted.
    feed_default_interval: float = Field(default=900.0, gt=0)
    #: Bounds of the adaptive interval, and of the backoff after failures (seconds).
    feed_min_interval: float = Field(default=60.0, gt=0)
    feed_max_interval: float = Field(default=6 * 3600.0, gt=0)
    #: Honour robots.txt (turn off only for your own sites).
    feed_respect_robots: bool = True
    #: Least time between two requests to one host, across all feeder replicas (seconds).
    feed_host_interval: float = Field(default=1.0, ge=0)
    #: Requests in flight to one host at once, across all feeder replicas.
    feed_host_concurrency: int = Field(default=2, ge=1)
    #: Sources one feeder replica polls at once.
    feed_concurrency: int = Field(default=16, ge=1)
    #: Item ids remembered per source (items seen before are not published again).
    feed_memory: int = Field(default=5_000, ge=100)
    #: Most new items published from one poll (the newest first; the rest wait for later).
    feed_max_items: int = Field(default=500, ge=1)
    #: A poll's lease on its source (seconds); another replica takes the source after it.
    feed_lease_seconds: float = Field(default=120.0, gt=0)

    # --- extraction -----------------------------------------------------------------------
    #: Child processes that run extraction (0 = one per core).
    extract_processes: int = Field(default=0, ge=0)
    #: Hard limit for one page's extraction in its child process (seconds).
    extract_timeout: float = 20.0
    #: Pages with more elements than this are refused before parsing in depth.
    extract_max_elements: int = 100_000

    # --- translation ----------------------------------------------------------------------
    target_language: str = "en"
    translate_provider: ProviderKind = "none"
    translate_base_url: str = ""
    translate_model: str = ""
    translate_api_key: SecretStr = SecretStr("")
    #: Longest piece of text sent to the provider at once (characters); split at paragraphs.
    translate_chunk_chars: int = Field(default=4_000, ge=200)
    #: Chunks of one article translated at once.
    translate_concurrency: int = Field(default=2, ge=1)

    # --- impact analysis ------------------------------------------------------------------
    impact_provider: ProviderKind = "none"
    impact_base_url: str = ""
    impact_model: str = ""
    impact_api_key: SecretStr = SecretStr("")
    #: Timeout of one chat-completions call (seconds).
    llm_timeout: float = 60.0
    #: Extra attempts after a rate limit (429), server error (5xx) or timeout.
    llm_retries: int = Field(default=2, ge=0)
    #: First backoff delay between attempts (seconds), doubled each time.
    llm_backoff: float = Field(default=1.0, ge=0)
    #: A 429 asking to wait longer than this fails the call at once (seconds).
    llm_max_retry_after: float = Field(default=30.0, ge=0)
    #: Longest article text sent for impact analysis (characters); the rest is cut.
    impact_max_chars: int = Field(default=12_000, ge=500)

    # --- similar events -------------------------------------------------------------------
    #: Half-life of the time decay of similar-event scores (days between the two events);
    #: 0 turns the decay off (an event ten years back counts as much as yesterday's).
    similar_half_life_days: float = Field(default=0.0, ge=0)
    #: Embeddings provider for semantic similar events (``none``: lexical only). Any
    #: OpenAI-compatible ``/embeddings`` endpoint, set as the chat providers are.
    embed_provider: ProviderKind = "none"
    embed_base_url: str = ""
    embed_model: str = ""
    embed_api_key: SecretStr = SecretStr("")
    #: Vector size asked of the model (``dimensions``; 0: the model's own).
    embed_dimensions: int = Field(default=0, ge=0, le=8192)
    #: Cosine similarity under which a semantic neighbour is not shown (it depends on the
    #: model: measure yours with ``bench/similar.py``; the stand-in embedder needs 0.7).
    embed_min_similarity: float = Field(default=0.5, ge=0, le=1)

    # --- LLM cost -------------------------------------------------------------------------
    #: Price per million tokens per model, JSON: ``{"gemini-2.5-flash": {"input": 0.30,
    #: "output": 2.50}}`` (a key may also be ``"<provider label>/<model>"``). No price is built
    #: in: a model missing here has its tokens counted and its cost shown as unknown.
    llm_prices: dict[str, ModelPrice] = {}
    #: Tokens (prompt + completion) the translation may use per UTC day; 0 means no limit.
    #: When spent, articles are stored with ``translation.status: deferred`` and resumed later.
    translate_daily_tokens: int = Field(default=0, ge=0)
    #: The same for the impact analysis (``analysis.impact.status: deferred``).
    impact_daily_tokens: int = Field(default=0, ge=0)
    #: How often the translator and analyzer look for deferred articles to resume (seconds).
    deferred_sweep_seconds: float = Field(default=300.0, gt=0)
    #: Most deferred articles one sweep requeues.
    deferred_sweep_batch: int = Field(default=50, ge=1)

    # --- stories (near-duplicates) ----------------------------------------------------------
    #: Estimated Jaccard similarity of two texts' shingles at which the later one joins the
    #: earlier one's story.
    story_merge_threshold: float = Field(default=0.5, gt=0, le=1)
    #: Estimated share of an article's text found in the matched one at which it reuses that
    #: article's translation and impact analysis instead of asking the LLM.
    story_reuse_threshold: float = Field(default=0.9, gt=0, le=1)
    #: Most stored fingerprints one band lookup returns.
    story_candidates: int = Field(default=20, ge=1, le=1000)
    #: How long a copy waits for its matched article's translation or analysis (seconds).
    story_reuse_wait: float = Field(default=20.0, ge=0)

    # --- reader ---------------------------------------------------------------------------
    reader_host: str = "127.0.0.1"
    reader_port: int = 8000
    #: Token required by write calls of the HTTP API; empty means writes are open.
    api_token: SecretStr = SecretStr("")
    #: Largest request body the reader accepts (bytes); larger ones get 413.
    reader_max_body_bytes: int = Field(default=64 * 1024, ge=1_024)
    #: Most URLs one publish call may carry.
    reader_max_batch: int = Field(default=100, ge=1)
    #: Longest comment on an article (characters).
    reader_max_comment_chars: int = Field(default=2_000, ge=1)
    #: How often the news list and a pending article page refresh themselves (seconds).
    reader_refresh_seconds: float = Field(default=3.0, gt=0)
    #: Host names the reader answers to (its Host header, any port), besides localhost,
    #: 127.0.0.1, [::1] and reader_host, which it always serves; ``.example.org`` also
    #: serves its subdomains, ``*`` any name. Others get 400 (DNS rebinding).
    reader_allowed_hosts: Annotated[list[str], NoDecode] = []
    #: How long a browser session from /login stays valid, checked by the server (seconds).
    reader_session_max_age: int = Field(default=7 * 24 * 3600, ge=1)
    #: The session cookie's Secure attribute: ``auto`` when the request came over https (as
    #: the connection says, or a trusted proxy's X-Forwarded-Proto), ``true``, ``false``.
    reader_cookie_secure: Literal["auto", "true", "false"] = "auto"
    #: Addresses or CIDR ranges of reverse proxies whose X-Forwarded-Proto and
    #: X-Forwarded-For are believed; empty believes none.
    reader_trusted_proxies: Annotated[list[str], NoDecode] = []
    #: Failed logins (form or Bearer token) one client address may make per window; more get
    #: 429 until the window ends. Counted in Redis, so every reader replica shares the count.
    reader_login_max_failures: int = Field(default=5, ge=1)
    reader_login_window_seconds: int = Field(default=300, ge=1)

    # --- alerts, feeds and views -------------------------------------------------------------
    #: The reader's address as people reach it (``https://news.example.org``), for the links in
    #: alerts and feeds; empty: ``http://<reader_host>:<reader_port>`` for alerts, and the
    #: address a feed was requested at for feeds.
    public_url: str = ""
    #: Timeout of one webhook request (connect, write and read each; seconds).
    alert_timeout: float = Field(default=10.0, gt=0)
    #: Extra attempts at a webhook after a network error, a timeout, 408, 425, 429 or 5xx.
    alert_retries: int = Field(default=3, ge=0)
    #: First delay between attempts (seconds), doubled each time.
    alert_backoff: float = Field(default=1.0, ge=0)
    #: Longest delay between attempts, a receiver's Retry-After included (seconds).
    alert_backoff_max: float = Field(default=30.0, ge=0)
    #: Most rules one article is checked against (a bounded, indexed query).
    alert_max_rules: int = Field(default=1_000, ge=1)
    #: Webhooks of one article sent at once by one notifier.
    alert_concurrency: int = Field(default=8, ge=1)
    #: The hot view ranks the analyzed articles received in this many past hours.
    hot_window_hours: float = Field(default=72.0, gt=0)
    #: ... and at most this many of them (the newest), so its cost is bounded.
    hot_max_candidates: int = Field(default=2_000, ge=1)
    #: Articles in one feed.
    feed_items: int = Field(default=50, ge=1, le=500)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("fetch_allowed_ports", mode="before")
    @classmethod
    def _split_ports(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(p) for p in value.replace(" ", "").split(",") if p]
        return value

    @field_validator("reader_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [h for h in value.replace(" ", "").split(",") if h]
        return value

    @field_validator("reader_trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [p for p in value.replace(" ", "").split(",") if p]
        if isinstance(value, list):
            for proxy in value:
                ipaddress.ip_network(proxy, strict=False)  # raises on a bad address or range
        return value

    @field_validator("fetch_allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [n for n in value.replace(" ", "").split(",") if n]
        if isinstance(value, list):
            for net in value:
                ipaddress.ip_network(net, strict=False)  # raises on a bad range
        return value

    @model_validator(mode="after")
    def _timeout_below_claim(self) -> Settings:
        if self.handler_timeout * 1000 >= self.claim_idle_ms:
            raise ValueError(
                "NEWSFLOW_HANDLER_TIMEOUT must be shorter than NEWSFLOW_CLAIM_IDLE_MS "
                "(a slow handler would be reclaimed and run twice)"
            )
        if self.reconcile_after * 1000 <= self.claim_idle_ms:
            raise ValueError(
                "NEWSFLOW_RECONCILE_AFTER must be longer than NEWSFLOW_CLAIM_IDLE_MS / 1000 "
                "(a pending message is reclaimed first; the reconciler is for what nothing "
                "else will pick up)"
            )
        return self

    @model_validator(mode="after")
    def _one_slot_on_a_cluster(self) -> Settings:
        cluster = self.redis_cluster or self.redis_url.split("://", 1)[0].endswith("+cluster")
        if cluster and hash_tag(self.stream_prefix) is None:
            raise ValueError(
                f"NEWSFLOW_STREAM_PREFIX {self.stream_prefix!r} has no hash tag: on a Redis "
                "Cluster every Newsflow key must share one, e.g. {newsflow}"
            )
        return self

    @model_validator(mode="after")
    def _feed_bounds(self) -> Settings:
        if self.feed_min_interval > self.feed_max_interval:
            raise ValueError(
                "NEWSFLOW_FEED_MIN_INTERVAL must not exceed NEWSFLOW_FEED_MAX_INTERVAL"
            )
        return self

    @property
    def consumer(self) -> str:
        return self.consumer_name or f"{socket.gethostname()}-{os.getpid()}"


def hash_tag(key: str) -> str | None:
    """The Redis Cluster hash tag of ``key`` (``newsflow`` of ``{newsflow}:urls``), if any:
    what is between its first ``{`` and the next ``}``, when that is not empty."""
    start = key.find("{")
    end = key.find("}", start + 1) if start != -1 else -1
    return key[start + 1 : end] if end > start + 1 else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
