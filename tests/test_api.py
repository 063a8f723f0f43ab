"""The public API: what `import modlab` and the CLI load, `__all__` agreement, and every Python
snippet in README.md and docs/ runs as written."""
from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "matplotlib", "sklearn", "scipy", "pandas", "pyarrow")


def loaded_after(code: str) -> set[str]:
    """Top-level modules present after running `code` in a fresh interpreter."""
    probe = (f"{code}\nimport sys\n"
             f"print('loaded:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.strip().splitlines()[-1]
    return set(filter(None, out.removeprefix("loaded:").split(",")))


def test_cli_help_and_list_import_nothing_heavy():
    assert loaded_after("import modlab.cli") == set()
    run = ("import sys; sys.argv = ['modlab', '{}']\nfrom modlab.cli import main\n"
           "try:\n    main()\nexcept SystemExit:\n    pass")
    assert loaded_after(run.format("--help")) == set()
    assert loaded_after(run.format("list")) == set()


def test_import_modlab_is_lazy_and_the_api_loads_no_plotting():
    assert loaded_after("import modlab") == set()
    used = loaded_after("import modlab\nfor n in modlab.__all__:\n    getattr(modlab, n)")
    assert "matplotlib" not in used and "sklearn" not in used


def test_all_lists_agree_with_the_subpackages():
    import modlab

    for name in modlab.__all__:
        assert hasattr(modlab, name), name
    for sub in ("metrics", "nn", "regularizers", "results", "sweep", "tasks", "train",
                "analysis"):
        module = importlib.import_module(f"modlab.{sub}")
        for name in module.__all__:
            assert hasattr(module, name), f"modlab.{sub}.{name}"
    exported = {n for n, where in modlab._EXPORTS.items()}
    for name in exported - {"EXPERIMENTS"}:
        sub = importlib.import_module(f"modlab.{modlab._EXPORTS[name]}")
        assert name in sub.__all__, f"{name} is re-exported but not in modlab.{modlab._EXPORTS[name]}.__all__"
    core = {"Data", "History", "RunConfig", "train_ensemble", "fit", "laplacian_spectrum",
            "weighted_activity", "range_margin", "functional_clusters", "locality", "attach",
            "inject_noise", "connection_cost", "Store", "run_experiment"}
    assert core <= set(modlab.__all__), core - set(modlab.__all__)


# -- docs that run ---------------------------------------------------------------------------

FENCE = re.compile(r"```python\n(.*?)```", re.S)
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def snippets():
    for path in DOCS:
        for i, match in enumerate(FENCE.finditer(path.read_text())):
            code = match.group(1)
            if "# doc: no-run" in code:
                continue
            yield pytest.param(path, code, id=f"{path.name}[{i}]")


@pytest.mark.parametrize("path, code", list(snippets()))
def test_doc_snippet_runs(path, code, tmp_path):
    """Each ```python block runs as a script in a fresh interpreter (in a scratch directory),
    so none can go stale; blocks marked `# doc: no-run` are exempt (e.g. cluster-only)."""
    script = tmp_path / "snippet.py"
    script.write_text(code)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, f"{path.name}:\n{code}\n{result.stderr[-3000:]}"


# The package's layers, lowest first; a module may import its own package and lower layers.
LAYERS = [{"atomic", "nn"}, {"regularizers", "metrics"}, {"tasks"}, {"train"},
          {"results", "experiments", "analysis"}, {"sweep"}, {"cli"}]  # as in docs/api.md


def _imported_packages(path: Path, root: Path) -> set[str]:
    """Top-level modlab packages `path` imports, relative or absolute, at any depth (imports
    inside functions count: a lazy upward import is still an upward import)."""
    import ast

    rel = path.relative_to(root)
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = list(rel.parts[:-1])
            base = base[:len(base) - (node.level - 1)]
            parts = base + [p for p in (node.module or "").split(".") if p]
            out |= {parts[0]} if parts else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("modlab."):
            out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("modlab.")}
    return {p.removesuffix(".py") for p in out}


def test_imports_run_only_downward():
    root = Path(importlib.util.find_spec("modlab").origin).parent
    layer = {pkg: i for i, group in enumerate(LAYERS) for pkg in group}
    upward = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if len(rel.parts) == 1:          # modlab/__init__.py re-exports everything, lazily
            continue
        own = rel.parts[0].removesuffix(".py")
        assert own in layer, f"{own} has no layer in LAYERS"
        for pkg in _imported_packages(path, root) - {own, "__init__", "__version__"}:
            if pkg not in layer or layer[pkg] >= layer[own]:
                upward.append(f"{rel} imports {pkg}")
    assert not upward, upward
