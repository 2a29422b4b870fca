"""The real app behind a real uvicorn server on 127.0.0.1, in this process and event loop.

Litestar's ``AsyncTestClient`` hands each request to the app through a blocking portal call, so
``asyncio.gather`` over it runs requests one after another. Concurrency tests need requests that
really overlap inside the server: this serves the app over TCP and talks to it with httpx.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn

from app.settings import Settings


@asynccontextmanager
async def live_server(settings: Settings, *, start_timeout: float = 120.0) -> AsyncIterator[httpx.AsyncClient]:
    """A started server for ``settings`` (database already migrated) and a client bound to it."""
    from app.factory import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings),
        lifespan="on",
        ws="none",
        http="h11",
        log_level="warning",
        access_log=False,
        backlog=512,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        deadline = asyncio.get_running_loop().time() + start_timeout
        while not server.started:
            if task.done():
                task.result()  # raises what stopped the server
                raise RuntimeError("uvicorn exited before it started")
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("uvicorn did not start in time")
            await asyncio.sleep(0.05)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120.0, limits=limits) as client:
            yield client
    finally:
        server.should_exit = True
        await task
        sock.close()
