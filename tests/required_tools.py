"""Skip a test whose external tool is missing, unless CI says the tool must be there.

`.ci/run` installs Debian's prometheus (promtool) and prometheus-alertmanager and sets
LAUNCHOPS_REQUIRE_TOOLS=1, so a missing tool fails the run instead of quietly skipping the
test that needs it; on a developer's machine the test skips and says how to install it.
"""

from __future__ import annotations

import os

import pytest


def tools_required() -> bool:
    return os.environ.get("LAUNCHOPS_REQUIRE_TOOLS") == "1"


def missing_tool(reason: str) -> None:
    """Fail under LAUNCHOPS_REQUIRE_TOOLS=1, else skip; either way with `reason`."""
    if tools_required():
        pytest.fail(f"required tool missing (LAUNCHOPS_REQUIRE_TOOLS=1): {reason}")
    pytest.skip(reason)
