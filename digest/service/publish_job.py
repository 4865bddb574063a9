"""The publish job: bring the output folder up to date, then tell WebSub hubs what changed.

Apart from ``digest.service.jobs`` (digests, mail, subscriptions) so that ``digest
publish`` and ``digest build`` load only the rendering code, not the mailer
and the HTTP client: interpreter start and imports are a good part of a
command's time on a small archive (docs/performance.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest.config import Config
from digest.publish.build import PublishReport, publish_store
from digest.store.database import Store

if TYPE_CHECKING:
    from digest.progress import Progress
    from digest.service.websub import Notifier


def run_publish(
    config: Config,
    store: Store,
    notifier: Notifier | None = None,
    full: bool = False,
    progress: Progress | None = None,
) -> PublishReport:
    """Bring the output folder up to date with the store (only what changed, unless ``full``).

    Then, with ``feeds.hubs`` configured, tell each hub which feeds changed:
    through ``notifier`` (the service's background worker, which retries) when
    given, else with one ping per hub and feed before returning (one-off commands).
    ``progress`` shows how far a full build is (``digest.progress``).
    """
    report = publish_store(store, config, config.paths.output, full=full, progress=progress)
    if config.feeds.hubs and report.changed_feeds:
        if notifier is not None:
            notifier.notify(report.changed_feeds)
        else:
            # Only a configured hub needs the HTTP client.
            import httpx

            from digest.service.websub import HUB_TIMEOUT
            from digest.service.websub import Notifier as OneOff

            with (
                httpx.Client(timeout=HUB_TIMEOUT) as client,
                OneOff(config.feeds.hubs, client, attempts=1) as once,
            ):
                once.notify(report.changed_feeds)
    return report
