"""The house's imports run one way: billing builds on accounts, never the other way
round (the Users page, a billing read, lives in billing). identity/ is the sign-in
part of accounts (SSO and two-factor: an app of its own for allauth's models and
migrations), in the same layer. Checked on the source, so an import hidden in a
function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Lower layers first: a module may import its own layer and the layers before it.
LAYERS = (("accounts", "identity"), ("billing",))


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_of_a_lower_app_imports_a_higher_one():
    wrong = []
    for index, layer in enumerate(LAYERS):
        higher = {app for apps in LAYERS[index + 1 :] for app in apps}
        for app in layer:
            for path in sorted((ROOT / app).rglob("*.py")):
                for name in _imports(path):
                    if name.split(".")[0] in higher:
                        wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []
