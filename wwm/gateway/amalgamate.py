"""Build the one-file CGI gateway (``cgi-bin/wwm.py``) from the package's modules.

The gateway is written as small modules (``wwm.protocol`` and
``wwm.gateway``); a web server's ``cgi-bin`` wants one standard-library-only
file.  This concatenates the modules in dependency order, hoists their
standard-library imports, drops the imports between them, and refuses to
build when two modules define the same top-level name or a module imports
something outside the standard library.  ``python3 -m wwm.gateway.amalgamate``
rewrites ``cgi-bin/wwm.py``; ``wwm cgi-file`` writes a fresh build anywhere.
"""
from __future__ import annotations

import ast
import os
import sys

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../wwm
MODULES = (  # dependency order
    "protocol/errors.py", "protocol/manifest.py", "protocol/files.py", "protocol/xmlsafe.py",
    "protocol/envelope.py", "protocol/rewards.py",
    "gateway/processes.py", "gateway/scoreboard.py", "gateway/runs.py", "gateway/reaper.py",
    "gateway/queries.py", "gateway/app.py", "gateway/cgi.py",
)
HEADER = '''#!/usr/bin/env python3
"""wwm stock gateway: puts any Program 1 on the web (standard library only).

Drop this one file into a web server's cgi-bin/ and set WWM_ROOT (a folder
holding minds/ and worlds/) and WWM_RUNS (a folder the web server may write).
`python3 wwm.py --check` prints what it sees.  See docs/gateway.md.

GENERATED from the wwm package (wwm/protocol, wwm/gateway) by
`python3 -m wwm.gateway.amalgamate`; edit those modules, not this file.
"""
'''


class BuildError(Exception):
    """The modules cannot be joined into one standard-library file."""


def _split(path: str):
    """``(docstring, stdlib import lines, body)`` of one module."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    drop, imports = set(), []
    doc = ast.get_docstring(tree) or ""
    for node in tree.body:
        span = range(node.lineno - 1, node.end_lineno)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node is tree.body[0]:
            drop.update(span)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("wwm", "__future__"):
            drop.update(span)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            top = [a.name.split(".")[0] for a in node.names] if isinstance(node, ast.Import) else [node.module.split(".")[0]]
            outside = [t for t in top if t not in sys.stdlib_module_names]
            if outside:
                raise BuildError(f"{path}: imports {outside[0]!r}, which is not in the standard library")
            imports.append("".join(lines[i] for i in span))
            drop.update(span)
    body = "".join(line for i, line in enumerate(lines) if i not in drop)
    return doc, imports, body.strip("\n"), tree


def _defined(tree) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def build(package: str = PACKAGE) -> str:
    """The text of the one-file gateway."""
    imports, sections, owner = [], [], {}
    for rel in MODULES:
        doc, mod_imports, body, tree = _split(os.path.join(package, rel))
        for name in _defined(tree):
            if name in owner:
                raise BuildError(f"{name!r} is defined in both {owner[name]} and {rel}")
            owner[name] = rel
        imports += [i for i in mod_imports if i not in imports]
        title = doc.splitlines()[0] if doc else ""
        rule = "# " + "-" * 75
        sections.append(f"{rule}\n# wwm/{rel}: {title}\n{rule}\n\n{body}\n")
    stdlib = sorted(imports, key=lambda line: (line.startswith("from"), line))
    return (HEADER + "from __future__ import annotations\n\n" + "".join(stdlib) + "\n\n"
            + "\n\n".join(sections)
            + '\n\nif __name__ == "__main__":\n    sys.exit(main())\n')


def write(dest: str) -> None:
    text = build()
    tmp = f"{dest}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o755)
    os.replace(tmp, dest)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(PACKAGE), "cgi-bin", "wwm.py")
    write(out)
    print(f"wrote {out}", file=sys.stderr)
