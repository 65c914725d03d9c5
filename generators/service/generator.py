"""``peerkit generate``: schemas/*.yaml -> message types, service bases, JSON Schemas and tests.

Two kinds of output:

- **peerkit's** files (``PACKAGE/generated/``, ``tests/generated/``) are rewritten freely;
- **the developer's** files (``PACKAGE/services/NAME.py``, ``tests/test_NAME.py``) are created
  once; later runs only add stubs for new handlers and refresh the import from the generated
  module. Handler bodies are never touched.

The plan is computed first (pure: text in, text out), then written, or only compared
(``--check``, which CI uses to catch a generated tree that drifted from its schemas).
"""

from __future__ import annotations

from .layout import GeneratorError, Layout, find_layout, load_all, template
from .merge import merge_service_module
from .plan import Planned, fresh_service_module, plan, plan_service
from .write import Outcome, apply, destroy_service, register

__all__ = [
    "GeneratorError",
    "Layout",
    "Outcome",
    "Planned",
    "apply",
    "destroy_service",
    "find_layout",
    "fresh_service_module",
    "load_all",
    "merge_service_module",
    "plan",
    "plan_service",
    "register",
    "template",
]
