"""``digest serve`` and what it runs: jobs, leadership, health, metrics, WebSub pings, systemd."""
