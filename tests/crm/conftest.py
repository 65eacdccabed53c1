"""The ``crm_env`` fixture: the same contract suite on Pipedrive and on HubSpot.

Each CRM provides ``tests/crm/{name}_env.py`` with ``make_env(sandbox) -> CrmTestEnv``. The env
runs on the shared ``sandbox`` fixture (tests/conftest.py: every emulator, rate limits off).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).parent
CRMS = ("pipedrive", "hubspot")


def load_env_module(name: str) -> ModuleType | None:
    """``tests/crm/{name}.py`` as a module (e.g. ``pipedrive_env``), or None while it does not exist."""
    path = HERE / f"{name}.py" if name == "env" else HERE / f"{name}_env.py"
    if not path.exists():
        return None
    module_name = f"dealbooks_tests_crm_{name}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return module


@pytest.fixture
def crm_sandbox(sandbox: Any) -> Any:
    """The sandbox the ``crm_env`` runs on (the shared ``sandbox`` fixture)."""
    return sandbox


@pytest.fixture(params=CRMS)
def crm_env(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A ``CrmTestEnv`` (tests/crm/env.py) for each CRM, on a fresh sandbox (``crm_sandbox``)."""
    module = load_env_module(request.param)
    if module is None:
        pytest.skip(f"tests/crm/{request.param}_env.py does not exist yet (the {request.param} helper adds it)")
    env = module.make_env(request.getfixturevalue("crm_sandbox"))
    try:
        yield env
    finally:
        close = getattr(env, "close", None)
        if callable(close):
            close()

