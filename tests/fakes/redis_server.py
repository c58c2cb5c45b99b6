"""A throwaway real redis-server for the tests that need one."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis_server(
    workdir: Path, extra: list[str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start redis-server on a free port in `workdir` (with `extra` settings); return it and
    its URL once it answers PING. Fails the test when redis-server is missing or never answers."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server not found on PATH; install it (apt-get install -y redis-server)")
    # Retried because another process may grab the port between probing and binding it.
    for _ in range(5):
        port = free_port()
        args = f"--port {port} --bind 127.0.0.1 --appendonly no --daemonize no".split()
        proc = subprocess.Popen(
            [binary, *args, "--save", "", "--dir", str(workdir), *(extra or [])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                with redis.Redis.from_url(url, socket_timeout=1) as client:
                    if client.ping():
                        return proc, url
            except redis.ConnectionError:
                time.sleep(0.05)
        proc.kill()
        proc.wait()
    pytest.fail("redis-server did not start answering PING")
