"""A real provider process on 127.0.0.1 per test module, always stopped."""

from tests.local_provider import server  # noqa: F401 (the fixture)
