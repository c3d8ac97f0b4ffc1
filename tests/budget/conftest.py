"""Fixtures of the budget tests: storage backends for the one ledger contract suite."""
from __future__ import annotations

import uuid

import pytest

from tests.budget.postgres import postgres_url  # noqa: F401  (a session fixture)

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def storage_url(request, tmp_path):
    """A database URL on each backend the ledger supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def study_name():
    return f"study-{uuid.uuid4().hex[:8]}"
