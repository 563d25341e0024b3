"""The package graph, read from the imports (grimp, import-linter's graph library).

Rules (docs/architecture.md): the core (``callcenter``) imports no feature; nothing imports
the composition root; the top-level packages form a graph without cycles and no module
imports its way back into a circle (imports inside functions and under ``TYPE_CHECKING``
count too); every feature with a ``plugin.py`` is listed in the composition root; the
development sandbox is used only by the ``pbx`` command and the demo, never by production code;
no shipped module is over 500 lines (issue #7: split it by concept instead).
"""

from __future__ import annotations

import graphlib
import importlib
from pathlib import Path

import grimp
import pytest

from composition.features import FEATURES

ROOT = Path(__file__).resolve().parents[2]
CORE, COMPOSITION = "callcenter", "composition"
NOT_SHIPPED = {"tests", "bench"}  # above everything; may import anything
PACKAGES = sorted(
    p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name not in NOT_SHIPPED
)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def package_edges(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    return {
        a: {
            b
            for b in PACKAGES
            if a != b and graph.direct_import_exists(importer=a, imported=b, as_packages=True)
        }
        for a in PACKAGES
    }


def module_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            children = edges[node]
            if i < len(children):
                work.append((node, i + 1))
                child = children[i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def test_the_core_imports_no_feature(graph: grimp.ImportGraph) -> None:
    assert package_edges(graph)[CORE] == set()


def test_nothing_imports_the_composition_root(graph: grimp.ImportGraph) -> None:
    importers = {a for a, bs in package_edges(graph).items() if COMPOSITION in bs}
    assert importers == set()


def test_top_level_packages_form_no_cycle(graph: grimp.ImportGraph) -> None:
    sorter = graphlib.TopologicalSorter(package_edges(graph))
    order = list(sorter.static_order())  # raises CycleError naming the cycle
    assert order.index(CORE) < order.index(COMPOSITION)


def test_no_module_imports_its_way_back_into_a_circle(graph: grimp.ImportGraph) -> None:
    assert module_cycles(graph) == []


def test_only_the_pbx_command_and_the_demo_use_the_sandbox(graph: grimp.ImportGraph) -> None:
    importers = graph.find_modules_that_directly_import("callcenter.pbx.sandbox")
    assert importers <= {"callcenter.pbx.cli", "composition.demo"}


def test_cycle_finder_finds_a_planted_cycle(graph: grimp.ImportGraph) -> None:
    graph.add_import(importer="callcenter.bus", imported="callcenter.config")
    graph.add_import(importer="callcenter.config", imported="callcenter.bus")
    try:
        assert ["callcenter.bus", "callcenter.config"] in module_cycles(graph)
    finally:
        graph.remove_import(importer="callcenter.bus", imported="callcenter.config")
        graph.remove_import(importer="callcenter.config", imported="callcenter.bus")


def test_every_feature_plugin_is_in_the_composition_root() -> None:
    features = set(PACKAGES) - {CORE, COMPOSITION}
    with_plugin = {name for name in features if (ROOT / name / "plugin.py").is_file()}
    listed = [f.name for f in FEATURES]
    assert len(listed) == len(set(listed))
    assert set(listed) == with_plugin
    for feature in FEATURES:
        assert importlib.import_module(f"{feature.name}.plugin").FEATURE is feature
        for module in feature.models:
            assert module.startswith(f"{feature.name}."), module  # a feature owns its tables


MAX_MODULE_LINES = 500


def test_no_shipped_module_is_over_500_lines() -> None:
    too_long = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # one revision a file, as Alembic writes them
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_MODULE_LINES:
                too_long[str(path.relative_to(ROOT))] = lines
    assert too_long == {}
