"""False positives found by the sweep of real code (benchmarks/sweep.py), each kept from coming back."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

from astack_lint.api import Settings, lint_paths


def _lint(root: Path, files: Dict[str, str]) -> List[str]:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    result = lint_paths([str(root)], Settings.from_values({"no_cache": True, "jobs": 1}, base_dir=str(root)))
    assert result.errors == []
    return [f"{Path(f.path).relative_to(root).as_posix()}:{f.line} {f.code}" for f in result.findings]


ROUTING = '''\
from contextlib import AsyncExitStack


async def app(scope, receive, send):
    async with AsyncExitStack() as request_stack:
        scope["fastapi_inner_astack"] = request_stack
        await handle(scope)


async def handle(scope):
    file_stack = scope.get("fastapi_middleware_astack")
    request_stack = scope["fastapi_inner_astack"]
    return file_stack, request_stack
'''


def test_axs104_fastapis_own_source_is_not_checked(tmp_path):
    """FastAPI 0.165's routing.py and dependencies/utils.py read fastapi_inner_astack and friends (8
    AXS104 findings when the sweep linted site-packages/fastapi): the framework reads the keys of its
    own release."""
    site = tmp_path / "site-packages"
    assert _lint(site, {"fastapi/__init__.py": "from .routing import app\n", "fastapi/routing.py": ROUTING}) == []


def test_axs104_a_users_package_named_after_fastapi_is_still_checked(tmp_path):
    """Only the top-level ``fastapi`` package is FastAPI; an integration package inside a project
    (myapp/integrations/fastapi/) is user code."""
    files = {
        "pyproject.toml": '[project]\nname = "myapp"\n',
        "myapp/__init__.py": "",
        "myapp/integrations/__init__.py": "",
        "myapp/integrations/fastapi/__init__.py": "",
        "myapp/integrations/fastapi/toolbar.py": (
            "from fastapi import Request\n\n\n"
            "async def panel(request: Request):\n"
            '    return request.scope["fastapi_astack"]\n'
        ),
        "fastapi_tools/__init__.py": "",
        "fastapi_tools/routing.py": ROUTING,
    }
    assert _lint(tmp_path, files) == [
        "fastapi_tools/routing.py:11 AXS104",
        "fastapi_tools/routing.py:12 AXS104",
        "myapp/integrations/fastapi/toolbar.py:5 AXS104",
    ]
