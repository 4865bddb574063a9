"""``digest serve`` and what it runs: jobs, leadership, health, metrics, WebSub pings, systemd."""

import signal


def stop_signals() -> tuple[signal.Signals, ...]:
    """What stops a long run cleanly (the service; a send between two emails).

    SIGHUP's default action kills the process where it stands, like SIGKILL: a closed terminal or a
    log rotation script's ``kill -HUP`` would leave an email in doubt, and there is nothing to
    reload.  Unless it is ignored already: ``nohup`` asks the process to outlive its terminal.
    """
    hang_up = () if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN else (signal.SIGHUP,)
    return (signal.SIGINT, signal.SIGTERM, *hang_up)
