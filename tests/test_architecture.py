"""The import arrows between donkit's top-level packages, checked by reading the source with `ast`.

Nothing here imports the project's modules: every `.py` file under each package folder is parsed,
and every `import` statement in it (at module level, inside functions, under
`if TYPE_CHECKING:`) is resolved to a project module. Strings in an `__init__.py` that name an
existing project module (the lazy export tables `_PUBLIC` / `_EXPORTS`, read by importlib on first
use) count as imports by that `__init__.py`.

The arrows, in words ("A <- B" means B may import A):

- geometry <- formats <- everything else: geometry imports no other package, formats only
  geometry, and every other package may build on both.
- sim_assets <- collect only: the simulated asset library is for collecting data, nothing else.
- learn <- descriptors, depth: the shared training machinery serves both networks.
- descriptors <- tracking: tracking follows points with the descriptors.
- reconstruct <- descriptors, depth: both learn from the fused scenes.
- depth never imports descriptors.
- nothing imports donkit: it is the command line, on top of everything; only benchmarks/ and
  tests/ (entry points too, not scanned here) may use it.

`ALLOWED_IMPORTS` below is the full table; docs/architecture.md draws it.
"""

import ast
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Every other package each package may import. "*" means any package.
ALLOWED_IMPORTS: dict[str, frozenset[str]] = {
    # Cameras, transforms, reprojection, sampling: maths only, the base everything stands on.
    "geometry": frozenset(),
    # On-disk formats (scenes, images, videos) and the error type every reader raises.
    "formats": frozenset({"geometry"}),
    # Running work over scenes (workers, resuming) reads and writes formats.
    "jobs": frozenset({"formats", "geometry"}),
    # Texture images are loaded and saved through formats.
    "textures": frozenset({"formats"}),
    # The simulated object library dresses its meshes with textures.
    "sim_assets": frozenset({"textures", "formats", "geometry"}),
    # Collection is the one user of the simulated assets.
    "collect": frozenset({"sim_assets", "textures", "jobs", "formats", "geometry"}),
    # Fusion reads collected scenes; it never needs the simulator.
    "reconstruct": frozenset({"jobs", "formats", "geometry"}),
    # Shared training machinery (loops, checkpoints, augmentation).
    "learn": frozenset({"jobs", "formats", "geometry", "textures"}),
    # Dense descriptors learn from fused scenes with the shared training machinery.
    "descriptors": frozenset({"learn", "reconstruct", "textures", "jobs", "formats", "geometry"}),
    # Point tracking follows points with the learned descriptors.
    "tracking": frozenset({"descriptors", "learn", "jobs", "formats", "geometry"}),
    # Depth learns from fused scenes too, but never from descriptors.
    "depth": frozenset({"learn", "reconstruct", "jobs", "formats", "geometry"}),
    # The command line wires every stage together.
    "donkit": frozenset({"*"}),
}

PACKAGES = tuple(ALLOWED_IMPORTS)

# Folders never read, wherever they are inside a package.
SKIPPED_FOLDERS = frozenset({".venv", "build", "__pycache__"})


class Import(NamedTuple):
    """One import arrow: the file `path` (relative to the root) imports `target` at `line`."""

    path: str
    line: int
    source: str
    target: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.target}"


def module_name(relative: Path) -> str:
    """The dotted module name of a .py file, given its path relative to the root."""
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files(root: Path, packages: Iterable[str]) -> Iterator[Path]:
    """Every .py file under each existing package folder (one with an __init__.py), sorted."""
    for package in packages:
        folder = root / package
        if not (folder / "__init__.py").is_file():
            continue
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(root)
            if not SKIPPED_FOLDERS.intersection(relative.parts[:-1]):
                yield path


def existing_modules(root: Path, files: Iterable[Path]) -> dict[str, Path]:
    """Module name -> file, for the given files."""
    return {module_name(path.relative_to(root)): path for path in files}


def resolve(name: str, modules: dict[str, Path]) -> str:
    """The module `name` stands for: itself if it exists, else its longest existing parent.

    A name with no existing parent (a package not written yet, a module just moved away) is
    kept as written.
    """
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return name


def base_of_from(node: ast.ImportFrom, source: str, is_init: bool) -> str | None:
    """The absolute module of `from X import ...` in module `source`; None if out of the tree."""
    if node.level == 0:
        return node.module
    package = source.split(".") if is_init else source.split(".")[:-1]
    if node.level - 1 > len(package) - 1:
        return None  # climbs above the top-level package
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imported_names(
    node: ast.AST, source: str, is_init: bool, modules: dict[str, Path]
) -> list[str]:
    """The dotted names an import statement loads; empty for anything that is not an import.

    `from pkg import name` loads pkg.name when that is a module, else pkg itself.
    """
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = base_of_from(node, source, is_init)
    if base is None:
        return []
    return [
        f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
        for alias in node.names
    ]


def imports_of_file(
    root: Path, path: Path, packages: Sequence[str], modules: dict[str, Path]
) -> list[Import]:
    """Every import of a project module by one file; a file that vanished mid-run has none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    relative = path.relative_to(root)
    source = module_name(relative)
    is_init = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(text, filename=str(path))):
        for name in imported_names(node, source, is_init, modules):
            if name.split(".")[0] in packages:
                found.append((node.lineno, resolve(name, modules)))
        if is_init and isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "." in node.value and node.value in modules:
                found.append((node.lineno, node.value))  # a lazy export, read by importlib
    return [
        Import(relative.as_posix(), line, source, target)
        for line, target in found
        if target != source
    ]


def read_imports(root: Path, packages: Sequence[str]) -> list[Import]:
    """Every import between project modules under `root`, sorted by file and line.

    `packages` are the top-level package names; imports of anything else are third-party and
    left out, and so is a module importing itself.
    """
    files = list(python_files(root, packages))
    modules = existing_modules(root, files)
    found = [edge for path in files for edge in imports_of_file(root, path, packages, modules)]
    return sorted(set(found))


def package_of(module: str) -> str:
    """The top-level package of a dotted module name."""
    return module.split(".")[0]


def across_packages(imports: Iterable[Import]) -> list[Import]:
    """The imports whose file and target lie in different top-level packages."""
    return [edge for edge in imports if package_of(edge.source) != package_of(edge.target)]


def graph_of(pairs: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """Adjacency sets of a directed graph given as (from, to) pairs; every node is a key."""
    graph: dict[str, set[str]] = {}
    for start, end in pairs:
        graph.setdefault(start, set()).add(end)
        graph.setdefault(end, set())
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None if it has none (depth-first search)."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for following in sorted(graph[node]):
            cycle = visit(following)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of the graph, each sorted (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for following in sorted(graph[node]):
            if following not in index:
                visit(following)
                low[node] = min(low[node], low[following])
            elif following in stack:
                low[node] = min(low[node], index[following])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def listing(imports: Iterable[Import]) -> str:
    """One `file:line imports module` per line."""
    return "\n".join(f"  {edge}" for edge in imports)


def offending(imports: Iterable[Import], broken: Callable[[str, str], bool]) -> list[Import]:
    """The cross-package imports for which `broken(from_package, to_package)` holds."""
    return [
        edge
        for edge in across_packages(imports)
        if broken(package_of(edge.source), package_of(edge.target))
    ]


def fail_on(bad: Sequence[Import], heading: str) -> None:
    """Fail with `heading` and one line per offending import, if there are any."""
    if bad:
        pytest.fail(f"{heading}:\n{listing(bad)}", pytrace=False)


@pytest.fixture(scope="module")
def project_imports() -> list[Import]:
    """The imports of the tree as it is on disk now."""
    return read_imports(ROOT, PACKAGES)


def test_package_arrows(project_imports):
    def not_allowed(source: str, target: str) -> bool:
        allowed = ALLOWED_IMPORTS[source]
        return "*" not in allowed and target not in allowed

    bad = offending(project_imports, not_allowed)
    fail_on(bad, "imports outside ALLOWED_IMPORTS")


def test_no_package_cycle(project_imports):
    between = [
        edge
        for edge in across_packages(project_imports)
        if "donkit" not in (package_of(edge.source), package_of(edge.target))
    ]
    graph = graph_of((package_of(edge.source), package_of(edge.target)) for edge in between)
    cycle = find_cycle(graph)
    if cycle:
        examples = [
            next(e for e in between if (package_of(e.source), package_of(e.target)) == arrow)
            for arrow in pairwise(cycle)
        ]
        pytest.fail(
            f"package cycle {' -> '.join(cycle)}, for example:\n{listing(examples)}", pytrace=False
        )


def test_no_two_files_import_each_other(project_imports):
    graph = graph_of((edge.source, edge.target) for edge in project_imports)
    cycles = [component for component in strongly_connected(graph) if len(component) > 1]
    reports = []
    for component in cycles:
        inside = [e for e in project_imports if e.source in component and e.target in component]
        reports.append(f"modules {', '.join(component)} import each other:\n{listing(inside)}")
    if reports:
        pytest.fail("\n".join(reports), pytrace=False)


def test_only_collect_imports_sim_assets(project_imports):
    bad = offending(
        project_imports,
        lambda source, target: target == "sim_assets" and source not in ("collect", "donkit"),
    )
    fail_on(bad, "only collect may import sim_assets")


def test_depth_never_imports_descriptors(project_imports):
    bad = offending(
        project_imports, lambda source, target: (source, target) == ("depth", "descriptors")
    )
    fail_on(bad, "depth imports descriptors")


def test_nothing_imports_donkit(project_imports):
    bad = offending(project_imports, lambda source, target: target == "donkit")
    fail_on(bad, "only benchmarks/ and tests/ may import donkit")


FAKE_TREE = {
    "pkg/__init__.py": (
        '"""A fake package."""\n'
        "\n"
        "_EXPORTS = {\n"
        '    "Thing": "pkg.sub.thing",\n'
        '    "pkg": "pkg",\n'
        '    "Gone": "pkg.gone",\n'
        '    "dumps": "json",\n'
        "}\n"
    ),
    "pkg/helpers.py": (
        "from typing import TYPE_CHECKING\n"
        "\n"
        "import numpy\n"
        "from pkg import sub, CONSTANT\n"
        "\n"
        "if TYPE_CHECKING:\n"
        "    from other.tool import Tool\n"
    ),
    "pkg/sub/__init__.py": "from . import thing\n",
    "pkg/sub/thing.py": (
        "import os\n"
        "\n"
        "from .. import helpers\n"
        "from ..helpers import NAME\n"
        "\n"
        "\n"
        "def make():\n"
        "    from other import tool, VERSION\n"
        '    return "pkg.helpers"\n'
    ),
    "pkg/build/generated.py": "import other\n",
    "other/__init__.py": "",
    "other/tool.py": "import pkg.sub.thing as thing\nimport pkg.sub.missing\n",
    "notapackage/__init__.py": "import pkg\n",
}


def test_import_reader_on_a_known_file(tmp_path):
    for name, text in FAKE_TREE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    found = read_imports(tmp_path, ["pkg", "other", "absent"])

    assert set(found) == {
        Import("other/tool.py", 1, "other.tool", "pkg.sub.thing"),
        Import("other/tool.py", 2, "other.tool", "pkg.sub"),  # longest existing parent
        Import("pkg/__init__.py", 4, "pkg", "pkg.sub.thing"),  # lazy export string
        Import("pkg/helpers.py", 4, "pkg.helpers", "pkg.sub"),  # a subpackage
        Import("pkg/helpers.py", 4, "pkg.helpers", "pkg"),  # CONSTANT is no module
        Import("pkg/helpers.py", 7, "pkg.helpers", "other.tool"),  # under TYPE_CHECKING
        Import("pkg/sub/__init__.py", 1, "pkg.sub", "pkg.sub.thing"),
        Import("pkg/sub/thing.py", 3, "pkg.sub.thing", "pkg.helpers"),  # from .. import module
        Import("pkg/sub/thing.py", 4, "pkg.sub.thing", "pkg.helpers"),
        Import("pkg/sub/thing.py", 8, "pkg.sub.thing", "other.tool"),  # inside a function
        Import("pkg/sub/thing.py", 8, "pkg.sub.thing", "other"),  # VERSION is no module
    }
    assert "pkg/helpers.py:4 imports pkg.sub" in listing(found)
