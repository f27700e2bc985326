"""Which variables a template uses, read from its syntax tree: dotted names (appointment.start_at), the line of
each use, and whether the use is guarded (| default(...), `is defined`, inside `{% if x is defined %}`), so a
variable that may be absent is only required where it is printed unguarded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from jinja2 import meta, nodes

from engine.outreach.sandbox import ENVIRONMENT

GUARD_FILTERS = {"default", "d"}
GUARD_TESTS = {"defined", "undefined", "none"}


@dataclass(frozen=True, slots=True)
class Use:
    name: str  # dotted: appointment.start_at; a bare name (patient) when the whole object is used
    line: int  # 1-based, within the template text
    guarded: bool


def parse(source: str) -> nodes.Template:
    """The syntax tree (raises jinja2.TemplateSyntaxError with its lineno)."""
    return ENVIRONMENT.parse(source)


def uses(tree: nodes.Template) -> list[Use]:
    """Every use of a context variable (not loop or set variables), in order."""
    free = meta.find_undeclared_variables(tree)
    return [u for u in _walk(tree, frozenset()) if u.name.split(".")[0] in free]


def dotted(node: nodes.Node) -> str | None:
    """appointment.start_at for Getattr(Name(appointment), start_at) (or appointment['start_at']), else None."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        base = dotted(node.node)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        base = dotted(node.node)
        return f"{base}.{node.arg.value}" if base else None
    return None


def _defined_in(test: nodes.Node) -> frozenset[str]:
    """Names a condition tests with `is defined`: inside its if-branch they may be printed."""
    found = set()
    for t in [test, *test.find_all(nodes.Test)]:
        if not isinstance(t, nodes.Test):
            continue
        if t.name == "defined" and (name := dotted(t.node)):
            found.add(name)
    return frozenset(found)


def _walk(node: nodes.Node, guarded: frozenset[str]) -> Iterator[Use]:
    name = dotted(node)
    if name is not None:
        yield Use(name, node.lineno, any(name == g or name.startswith(g + ".") for g in guarded))
        return
    if isinstance(node, nodes.Filter | nodes.Test) and node.node is not None:
        guard = node.name in (GUARD_FILTERS if isinstance(node, nodes.Filter) else GUARD_TESTS)
        inner = dotted(node.node)
        yield from _walk(node.node, guarded | {inner} if guard and inner else guarded)
        for child in (*node.args, *node.kwargs):
            yield from _walk(child, guarded)
        return
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
        # a method call (name.upper()) uses the object, not a variable called 'upper'
        yield from _walk(node.node.node, guarded)
        for child in (*node.args, *node.kwargs):
            yield from _walk(child, guarded)
        return
    if isinstance(node, nodes.And):
        # {% if x is defined and x > 3 %}: the right side runs only when the left holds
        yield from _walk(node.left, guarded)
        yield from _walk(node.right, guarded | _defined_in(node.left))
        return
    if isinstance(node, nodes.If | nodes.CondExpr):
        inside = guarded | _defined_in(node.test)
        yield from _walk(node.test, guarded)
        then = node.body if isinstance(node, nodes.If) else [node.expr1]
        for child in then:
            yield from _walk(child, inside)
        rest: list[nodes.Node | None] = [*node.elif_, *node.else_] if isinstance(node, nodes.If) else [node.expr2]
        for other in rest:
            if other is not None:
                yield from _walk(other, guarded)
        return
    for child in node.iter_child_nodes():
        yield from _walk(child, guarded)
