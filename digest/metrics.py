"""Prometheus metrics of ``digest serve``, served at ``/metrics`` in the text exposition format.

One registry per service (not the library's global one), so tests and
several runners in one process never share counts.  The jobs report what
they did after each run; nothing is measured inside the stages themselves.
"""

from __future__ import annotations

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

from digest.ingest import IngestReport
from digest.jobs import DigestResult
from digest.publish import PublishReport
from digest.server import ASGIApp

METRICS_PATH = "/metrics"
# Seconds: a page is promised in the feeds within two, a large publish may take tens.
# The *_created series (a timestamp per label set) double the output and help no dashboard.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client
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
            "Digest emails by delivery outcome (sent, failed, refused).",
            ["outcome"],
            registry=r,
        )
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
        self.articles = Gauge("digest_articles", "Articles in the store.", registry=r)
        self.files_waiting = Gauge(
            "digest_files_waiting", "Page files changed but not yet settled.", registry=r
        )

    def ingested(self, report: IngestReport) -> None:
        """Count one successful ingest run."""
        self.runs.labels("ingest", "ok").inc()
        for outcome in ("read", "unchanged", "failed"):
            self.files.labels(outcome).inc(getattr(report, outcome))
        for change in ("new", "changed"):
            self.stored.labels(change).inc(getattr(report, change))
        self.seconds.labels("ingest").observe(report.ms / 1000)

    def published(self, report: PublishReport, seconds: float, articles: int) -> None:
        """Count one successful publish run of a store holding ``articles``."""
        self.runs.labels("publish", "ok").inc()
        self.written.inc(report.written_count)
        self.seconds.labels("publish").observe(seconds)
        self.articles.set(articles)

    def digested(self, result: DigestResult | None, seconds: float) -> None:
        """Count one successful digest run (``None``: nothing was due)."""
        self.runs.labels("digest", "ok").inc()
        if result is not None:
            for outcome in ("sent", "failed", "refused"):
                self.emails.labels(outcome).inc(getattr(result, outcome))
        self.seconds.labels("digest").observe(seconds)

    def failed(self, job: str) -> None:
        """Count one failed run of ``job``."""
        self.runs.labels(job, "error").inc()

    def asgi_app(self) -> ASGIApp:
        """The ``/metrics`` endpoint."""
        app: ASGIApp = make_asgi_app(self.registry)
        return app
