"""Shared test setup. Fixtures that need real infrastructure live in tests/fixtures/."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = [
    "tests.fixtures.hsm",
    "tests.fixtures.pcsc",
    "tests.fixtures.postgres",
    "tests.fixtures.repository",
]
