"""Engine ownership: who holds the lease on a database, and whether that holder is alive."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime

from cnp_tui.core.models import Lease

HOSTNAME = socket.gethostname()
STALE_AFTER_BEATS = 3


def new_owner_id() -> str:
    """A unique id for this engine instance (pid alone is reused across reboots)."""
    return f"{HOSTNAME}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_is_stale(lease: Lease, now: datetime, heartbeat_interval: float) -> bool:
    """True when the holder is gone: its process is dead (same host) or it stopped beating."""
    import psutil  # here, not at the top: `cnp job list` reaches this module and must start fast

    if lease.host == HOSTNAME and not psutil.pid_exists(lease.pid):
        return True
    silent = (now - lease.heartbeat_at).total_seconds()
    return silent > STALE_AFTER_BEATS * heartbeat_interval
