"""``digest serve`` and what it runs: jobs, leadership, health, metrics, WebSub pings, systemd."""

import signal

# What stops a long run cleanly (the service; a send between two emails). SIGHUP's default action
# kills the process where it stands, like SIGKILL: a closed terminal or a log rotation script's
# ``kill -HUP`` would leave an email in doubt. There is nothing to reload.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
