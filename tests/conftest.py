"""Fixtures shared by the unit and integration tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from agent.context import EFFORT_PRESETS
from tests.integration.conftest import free_port
from tests.postgres_server import PostgresServer, binaries


@pytest.fixture(autouse=True)
def _prose_samples(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scripted models answer in prose, so their tests draw no program sample.

    A real-model test, or one marked ``programs``, keeps the default (``agent.programs``).
    """
    if request.node.get_closest_marker("real") or request.node.get_closest_marker("programs"):
        return
    for preset in EFFORT_PRESETS.values():
        monkeypatch.setitem(preset, "programs", 0)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server: ``$REFLECT_TEST_POSTGRES``, else a private one started here.

    On CI a missing server is a failure, not a skip: the checkpoint tests must run there.
    """
    given = os.environ.get("REFLECT_TEST_POSTGRES")
    if given:
        yield given
        return
    bin_dir = binaries()
    if bin_dir is None:
        message = "PostgreSQL's server is not installed (Debian: apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer(bin_dir, free_port())
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
