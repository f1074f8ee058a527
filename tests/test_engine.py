"""The test-side readers of a provider's store see inside PostgreSQL too: a scan that
could not see the database would pass every at-the-provider check on PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import pytest

from tests.engine import provider_rows, provider_tables, stored_needles
from tests.pg import pg_admin_url, pg_required, temporary_database


@pytest.mark.pg
async def test_the_scan_sees_bytes_and_text_inside_a_postgresql_database(tmp_path: Path) -> None:
    admin = pg_admin_url()
    if admin is None:
        if pg_required():
            pytest.fail("CI=true but ACCORD_TEST_PG is unset: PostgreSQL is required")
        pytest.skip("ACCORD_TEST_PG is unset")
    secret, words = os.urandom(24), b"meet at the harbour"
    async with temporary_database(admin) as url:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("CREATE TABLE planted (b bytea, s text)")
            await conn.execute("INSERT INTO planted VALUES ($1, $2)", b"<" + secret + b">",
                               words.decode())
        finally:
            await conn.close()
        assert stored_needles(tmp_path, [secret, words, b"not stored"], url) == [
            ("postgresql", 0), ("postgresql", 1)]
        assert provider_rows(tmp_path, "SELECT s FROM planted WHERE b = ?",
                             b"<" + secret + b">", database=url) == [(words.decode(),)]
        assert provider_tables(tmp_path, url) == {"planted": [(b"<" + secret + b">",
                                                               words.decode())]}
