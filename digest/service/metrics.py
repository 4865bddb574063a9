"""Prometheus metrics of ``digest serve``, served at ``/metrics`` in the text exposition format.

One registry per service (not the library's global one), so tests and
several runners in one process never share counts.  The jobs report what
they did after each run; nothing is measured inside the stages themselves.
Gauges of what the database holds (articles; subscribers, ledger rows and subscription emails by
status) and of leadership are read when Prometheus scrapes, so they are never stale.
Names follow Prometheus' conventions (base units, ``_total`` counters, an
``_info`` metric for the build) and pass ``promtool check metrics``.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    make_asgi_app,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from digest import __version__
from digest.ingest.pipeline import IngestReport
from digest.mail.delivery import DeliveryReport
from digest.publish.build import PublishReport
from digest.service.jobs import DigestResult
from digest.service.leader import Leadership
from digest.store.database import Store
from digest.web.http import ASGIApp, Message, Receive, Scope, Send, refuse_method

METRICS_PATH = "/metrics"
# Seconds: a page is promised in the feeds within two, a large publish may take tens.
# The *_created series (a timestamp per label set) double the output and help no dashboard.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client
# sent, failed, deferred, refused, ...: the counts of a send run (not ``busy``, who held the lease)
_OUTCOMES = tuple(name for name, f in DeliveryReport.__dataclass_fields__.items() if f.type in (int, "int"))
_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """The service's counters, histograms and gauges, in their own registry."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.runs = Counter(
            "digest_job_runs",
            "Job runs by job (ingest, publish, digest) and outcome (ok, error).",
            ["job", "outcome"],
            registry=r,
        )
        self.files = Counter(
            "digest_ingest_files",
            "Page files looked at by ingest, by outcome (read, unchanged, failed).",
            ["outcome"],
            registry=r,
        )
        self.stored = Counter(
            "digest_ingest_articles",
            "Articles stored by ingest, by change (new, changed).",
            ["change"],
            registry=r,
        )
        self.written = Counter(
            "digest_publish_files_written", "Output files (re)written by publish.", registry=r
        )
        self.emails = Counter(
            "digest_emails",
            "Digest emails by delivery outcome in a run (" + ", ".join(_OUTCOMES) + ").",
            ["outcome"],
            registry=r,
        )
        self.requests = Counter(
            "digest_http_requests",
            "HTTP requests answered, by status code (429: refused by the rate limit).",
            ["code"],
            registry=r,
        )
        self.succeeded = Gauge(
            "digest_last_success_timestamp_seconds",
            "When each job (ingest, publish, digest) last finished without error, Unix time.",
            ["job"],
            registry=r,
        )
        Gauge(
            "digest_build_info",
            "The running version of digest and of Python; always 1.",
            ["version", "python"],
            registry=r,
        ).labels(__version__, platform.python_version()).set(1)
        self.seconds = Histogram(
            "digest_job_seconds",
            "Time per job run, by job (ingest, publish, digest).",
            ["job"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.page_seconds = Histogram(
            "digest_page_to_feed_seconds",
            "From a page file's last write to its articles being published.",
            buckets=_BUCKETS,
            registry=r,
        )
        self.files_waiting = Gauge(
            "digest_files_waiting", "Page files changed but not yet settled.", registry=r
        )

    def track(self, store: Store, leader: Leadership) -> None:
        """Read subscribers, ledger rows and subscription emails by status, and leadership, from
        ``store`` at each scrape."""
        self.registry.register(_StoreCollector(store, leader))

    def count_requests(self, app: ASGIApp) -> ASGIApp:
        """``app`` counting the status code of every HTTP response it sends."""

        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start":
                    self.requests.labels(str(message["status"])).inc()
                await send(message)

            await app(scope, receive, sending if scope["type"] == "http" else send)

        return counted

    def ingested(self, report: IngestReport) -> None:
        """Count one successful ingest run."""
        self.runs.labels("ingest", "ok").inc()
        self.succeeded.labels("ingest").set(time.time())
        for outcome in ("read", "unchanged", "failed"):
            self.files.labels(outcome).inc(getattr(report, outcome))
        for change in ("new", "changed"):
            self.stored.labels(change).inc(getattr(report, change))
        self.seconds.labels("ingest").observe(report.ms / 1000)

    def published(self, report: PublishReport, seconds: float) -> None:
        """Count one successful publish run."""
        self.runs.labels("publish", "ok").inc()
        self.succeeded.labels("publish").set(time.time())
        self.written.inc(report.written_count)
        self.seconds.labels("publish").observe(seconds)

    def digested(self, result: DigestResult | None, seconds: float) -> None:
        """Count one successful digest run (``None``: nothing was due)."""
        self.runs.labels("digest", "ok").inc()
        self.succeeded.labels("digest").set(time.time())
        if result is not None:
            for outcome in _OUTCOMES:
                self.emails.labels(outcome).inc(getattr(result.delivery, outcome))
        self.seconds.labels("digest").observe(seconds)

    def failed(self, job: str) -> None:
        """Count one failed run of ``job``."""
        self.runs.labels(job, "error").inc()

    def asgi_app(self) -> ASGIApp:
        """The ``/metrics`` endpoint: GET and HEAD; any other method is refused (405)."""
        exposition: ASGIApp = make_asgi_app(self.registry)

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            # prometheus_client answers every method alike; a POST or DELETE here is a mistake.
            if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
                await refuse_method(send)
                return
            await exposition(scope, receive, send)

        return app


class _StoreCollector(Collector):
    """Gauges read from the database when Prometheus scrapes (a few grouped counts)."""

    def __init__(self, store: Store, leader: Leadership) -> None:
        self._store = store
        self._leader = leader

    def collect(self) -> Iterator[Metric]:
        leading = GaugeMetricFamily("digest_leader", "1 while this instance runs the jobs, else 0.")
        leading.add_metric([], 1.0 if self._leader.held else 0.0)
        yield leading
        # Read here, not set after each publish: /healthz counts the store live, and a gauge set
        # after the run lagged the feeds it had just written.
        stored = self._store.article_count()
        yield GaugeMetricFamily("digest_articles", "Articles in the store.", value=stored)
        counts = self._store.status_counts()
        for name, what in (
            ("subscribers", "Subscribers"),
            ("deliveries", "Digest ledger rows"),
            ("subscription_emails", "Subscription emails (confirmations, notes)"),
        ):
            family = GaugeMetricFamily(f"digest_{name}", f"{what} by status.", labels=["status"])
            for status, count in sorted(counts[name].items()):
                family.add_metric([status], count)
            yield family
