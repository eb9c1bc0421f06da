"""Fixtures of the converter's proofs: the sample in both sources (tests/queries/queries_rig.py)."""

from __future__ import annotations

import pytest
from queries_rig import samples  # noqa: F401 - the session fixture

pytestmark = pytest.mark.services
