"""Safe evaluation of the Python expressions and scripts written in diagrams.

SpiffWorkflow's default script engine is plain ``eval``/``exec`` with full
builtins, and RestrictedPython's ``safe_globals`` still lets
``().__class__.__base__.__subclasses__()`` through (SPIFF-NOTES). Diagram code
here is first parsed with :mod:`ast` and checked against an allow-list:

* nodes: constants, names, containers, subscripts, comparisons, boolean,
  arithmetic and unary operators, conditional expressions, comprehensions,
  f-strings, and in scripts plain assignments, ``if``, ``for``, ``del``;
* names never start with ``_`` and never name a dangerous builtin;
* attribute access only to an explicit list of harmless names (no ``format``,
  no ``gi_frame``: every escape known to us goes through an attribute);
* calls only to whitelisted functions and registered helpers, or to the
  listed methods; no ``*args``/``**kwargs`` unpacking.

Checked code is compiled once (cached) and run with empty ``__builtins__``.
Whatever goes wrong surfaces as :class:`WorkflowScriptError`.
"""
from __future__ import annotations

import ast
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from app.errors import DomainError

if TYPE_CHECKING:
    from SpiffWorkflow.task import Task

    from workflows.models import ProcessInstance


class WorkflowScriptError(DomainError):
    """A diagram expression or script was refused or failed."""

    status_code = 500


SAFE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len, "min": min, "max": max, "sum": sum, "abs": abs, "round": round,
    "int": int, "str": str, "float": float, "bool": bool, "sorted": sorted,
    "any": any, "all": all, "list": list, "dict": dict, "set": set, "tuple": tuple,
    "Decimal": Decimal,
}

# Helpers contributed by domain packages through ``script_helper``; they are callable
# from diagrams like the builtins above.
_HELPERS: dict[str, Callable[..., Any]] = {}

# Attribute names a diagram may read or call. Kept short on purpose: only methods of
# str/dict/list/date values that neither reach interpreter internals nor format strings.
SAFE_ATTRIBUTES = frozenset({
    "get", "keys", "values", "items", "count", "index", "append",
    "strip", "lstrip", "rstrip", "lower", "upper", "startswith", "endswith",
    "split", "join", "replace", "isdigit",
    "isoformat", "date", "year", "month", "day", "hour", "minute", "second",
    "weekday", "isoweekday", "days", "seconds",
})

# Named for a clearer message; they are unreachable anyway because builtins are empty.
FORBIDDEN_NAMES = frozenset({
    "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "hasattr",
    "globals", "locals", "vars", "dir", "type", "object", "super", "breakpoint",
    "input", "help", "memoryview", "classmethod", "staticmethod", "property", "id",
    "print", "exit", "quit", "format", "reload", "import",
})

_EXPRESSION_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.Constant, ast.Name, ast.Load,
    ast.BoolOp, ast.And, ast.Or,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod,
    ast.BitAnd, ast.BitOr, ast.BitXor,
    ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
    ast.In, ast.NotIn, ast.Is, ast.IsNot,
    ast.IfExp, ast.Subscript, ast.Slice, ast.List, ast.Tuple, ast.Dict, ast.Set,
    ast.Call, ast.keyword, ast.Attribute,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension, ast.Store,
    ast.JoinedStr, ast.FormattedValue,
)
_SCRIPT_NODES: tuple[type[ast.AST], ...] = _EXPRESSION_NODES + (
    ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.If, ast.For,
    ast.Pass, ast.Break, ast.Continue, ast.Delete, ast.Del,
)


def script_helper(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``func`` as a function diagrams may call by ``name``."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        if name.startswith("_") or name in FORBIDDEN_NAMES or name in SAFE_FUNCTIONS:
            raise ValueError(f"cannot register script helper {name!r}")
        _HELPERS[name] = func
        _compile.cache_clear()  # earlier refusals of an unknown call may now be valid
        return func

    return decorator


def _callables() -> dict[str, Callable[..., Any]]:
    return {**_HELPERS, **SAFE_FUNCTIONS}


class _Checker(ast.NodeVisitor):
    """Raises WorkflowScriptError on the first node outside the allow-list."""

    def __init__(self, source: str, allowed: tuple[type[ast.AST], ...]) -> None:
        self.source = source
        self.allowed = allowed
        self.callables = _callables()

    def fail(self, node: ast.AST, why: str) -> None:
        line = getattr(node, "lineno", None)
        where = f" (line {line})" if line else ""
        raise WorkflowScriptError(f"refused diagram code{where}: {why}: {self.source!r}")

    def generic_visit(self, node: ast.AST) -> None:
        if not isinstance(node, self.allowed):
            self.fail(node, f"{type(node).__name__} is not allowed")
        super().generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id.startswith("_"):
            self.fail(node, f"name {node.id!r} starts with an underscore")
        if node.id in FORBIDDEN_NAMES:
            self.fail(node, f"name {node.id!r} is forbidden")
        if isinstance(node.ctx, (ast.Store, ast.Del)) and node.id in self.callables:
            self.fail(node, f"cannot assign to the function {node.id!r}")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_") or node.attr not in SAFE_ATTRIBUTES:
            self.fail(node, f"attribute {node.attr!r} is not allowed")
        if not isinstance(node.ctx, ast.Load):
            self.fail(node, "attributes cannot be assigned")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id not in self.callables:
                self.fail(node, f"call to {func.id!r} is not allowed")
        elif not isinstance(func, ast.Attribute):  # methods are checked by visit_Attribute
            self.fail(node, "only named functions and listed methods may be called")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.fail(node, "argument unpacking is not allowed")
        for kw in node.keywords:
            if kw.arg is None:
                self.fail(node, "keyword unpacking is not allowed")
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Del):
            self.fail(node, "deleting items is not allowed")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, bytes):
            self.fail(node, "bytes literals are not allowed")
        self.generic_visit(node)


@lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> Any:
    """Check ``source`` and compile it; cached because diagrams repeat the same code."""
    try:
        tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    except SyntaxError as exc:
        raise WorkflowScriptError(f"syntax error in diagram code (line {exc.lineno}): {source!r}") from None
    _Checker(source, _EXPRESSION_NODES if mode == "eval" else _SCRIPT_NODES).visit(tree)
    return compile(tree, "<diagram>", mode)


def check_expression(source: str) -> None:
    """Raise WorkflowScriptError unless ``source`` is an allowed expression."""
    _compile(source, "eval")


def check_script(source: str) -> None:
    """Raise WorkflowScriptError unless ``source`` is an allowed script."""
    _compile(source, "exec")


def _namespace(context: Mapping[str, Any], external: Mapping[str, Any] | None) -> dict[str, Any]:
    ns: dict[str, Any] = {}
    if external:
        ns.update(external)
    ns.update(context)
    ns.update(_callables())  # functions win over data keys with the same name
    ns["__builtins__"] = {}
    return ns


def evaluate(source: str, context: Mapping[str, Any], external: Mapping[str, Any] | None = None) -> Any:
    """Evaluate a checked expression against ``context`` (task data)."""
    code = _compile(source, "eval")
    try:
        return eval(code, _namespace(context, external))  # noqa: S307 - checked allow-list, no builtins
    except WorkflowScriptError:
        raise
    except Exception as exc:  # any runtime failure of diagram code is the diagram's error
        raise WorkflowScriptError(f"expression {source!r} failed: {type(exc).__name__}: {exc}") from exc


def execute(source: str, context: dict[str, Any], external: Mapping[str, Any] | None = None) -> None:
    """Run a checked script; assignments land in ``context`` (task data)."""
    code = _compile(source, "exec")
    ns = _namespace(context, external)
    try:
        exec(code, ns)  # noqa: S102 - checked allow-list, no builtins
    except WorkflowScriptError:
        raise
    except Exception as exc:
        raise WorkflowScriptError(f"script failed: {type(exc).__name__}: {exc}: {source!r}") from exc
    skip = set(_callables()) | {"__builtins__"} | set(external or ())
    for key in [k for k in context if k not in ns]:
        del context[key]  # ``del name`` in the script
    for key, value in ns.items():
        if key not in skip and not callable(value):
            context[key] = value


class SafeEnvironment(BasePythonScriptEngineEnvironment):
    """A script environment: checked code, and service calls dispatched to the registry."""

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict | None = None) -> Any:
        return evaluate(expression, context, external_context)

    def execute(self, script: str, context: dict[str, Any], external_context: dict | None = None) -> bool:
        execute(script, context, external_context)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> str:
        """Run the registered handler; its dict result is merged into ``context``.

        SpiffWorkflow stores the returned JSON under the task's result variable; we
        return ``null`` and the recorder drops that placeholder
        (projection.StepRecorder.did_complete).
        """
        from workflows.registry import get_service_handler

        name = kwargs["operation_name"]
        params = {k: v["value"] for k, v in kwargs.get("operation_params", {}).items()}
        handler = get_service_handler(name)
        result = handler(kwargs["instance"], params, dict(context))  # a copy: changes go through the result
        if result is not None:
            if not isinstance(result, dict):
                raise WorkflowScriptError(f"service task handler {name!r} must return a dict or None")
            context.update(result)
        return json.dumps(None)


SAFE_ENVIRONMENT = SafeEnvironment()


class SafeScriptEngine(PythonScriptEngine):
    """The script engine set on every workflow (it is not serialized: set after restore).

    One engine per loaded instance, because service handlers receive that instance.
    Errors pass through unwrapped so that callers see WorkflowScriptError or the
    handler's own DomainError rather than SpiffWorkflow's generic wrapper.
    """

    def __init__(self, instance: ProcessInstance | None = None) -> None:
        super().__init__(environment=SAFE_ENVIRONMENT)
        self.instance = instance

    def validate(self, expression: str) -> None:
        check_expression(expression)

    def evaluate(self, task: Task, expression: str, external_context: dict | None = None) -> Any:
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except WorkflowScriptError as exc:
            raise _in_task(exc, task) from exc.__cause__

    def execute(self, task: Task, script: str, external_context: dict | None = None) -> bool:
        try:
            return self.environment.execute(script, task.data, external_context or {})
        except WorkflowScriptError as exc:
            raise _in_task(exc, task) from exc.__cause__

    def call_service(self, task: Task, **kwargs: Any) -> str:
        return self.environment.call_service(task.data, instance=self.instance, task=task, **kwargs)


def _in_task(exc: WorkflowScriptError, task: Task) -> WorkflowScriptError:
    spec = task.task_spec
    label = getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name
    return WorkflowScriptError(f"{exc.message} [element {label!r} of {task.workflow.spec.name!r}]")
