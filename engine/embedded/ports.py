"""Free loopback TCP port helper for the embedded services."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port on ``host`` that nothing listens on right now.

    The kernel picks the port (bind to 0), which avoids guessing and collisions
    with well-known ports. The socket is closed before the child binds, so
    another process could grab the port in between; the window is tiny and a
    child that loses the race fails to start with a clear error naming its log.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Without SO_REUSEADDR the port may sit in TIME_WAIT briefly; we only
        # ask the kernel for a number, nobody ever connects to this socket.
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
