"""Dependencies handlers receive: the service container and a database session.

Handlers never open sessions themselves: ``provide_db`` yields one per request and rolls back
whatever the handler did not commit.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from app.services import Services


def provide_services(state: State) -> Services:
    services: Services = state.services
    return services


async def provide_db(state: State) -> AsyncGenerator[AsyncSession, None]:
    services: Services = state.services
    async with services.sessions() as session:
        yield session
