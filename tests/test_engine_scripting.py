"""The restricted evaluator for diagram expressions and scripts (no database needed)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from app.errors import DomainError
from workflows import scripting
from workflows.scripting import WorkflowScriptError, evaluate, execute, script_helper

ESCAPES = [
    '__import__("os").system("touch {marker}")',
    "().__class__.__base__.__subclasses__()",
    "[].__class__.__mro__[1].__subclasses__()",
    'getattr((), "__class__")',
    'open("{marker}", "w")',
    'eval("1 + 1")',
    'exec("x = 1")',
    'compile("1", "f", "eval")',
    "(lambda: 1)()",
    "[x for x in ().__class__.__bases__]",
    '"{{0.__class__}}".format(1)',
    '"{{0.__class__.__base__}}".format_map({{}})',
    'f"{{().__class__}}"',
    "(x for x in []).gi_frame.f_back.f_globals",
    "len.__self__",
    "__builtins__",
    "_secret",
    "globals()",
    "vars()",
    "type(1)",
    "str.mro()",
    "dict.fromkeys([1])",
    "d.__class__",
    "[1][0].__class__",
    "print(1)",
    "len(*[[1]])",
    "dict(**{{'a': 1}})",
    "b'x'",
    "(y := 1)",
    "2 ** 100000000",
    "1 << 100000000",
]


@pytest.mark.parametrize("attempt", ESCAPES)
def test_escape_attempts_are_refused_before_running(attempt: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    source = attempt.format(marker=marker)
    with pytest.raises(WorkflowScriptError) as caught:
        evaluate(source, {"d": {}})
    assert isinstance(caught.value, DomainError)
    assert "refused" in caught.value.message or "syntax" in caught.value.message
    assert not marker.exists()


@pytest.mark.parametrize(
    "script",
    [
        "import os",
        "from os import path",
        "def f():\n    return 1",
        "class A:\n    pass",
        "while True:\n    pass",
        "x.y = 1",
        "len = 3",
        "__x = 1",
        "global y\ny = 1",
        "try:\n    x = 1\nexcept Exception:\n    pass",
        "with open('f') as f:\n    pass",
        "del d['a']",
        "raise SystemExit",
        "assert False",
    ],
)
def test_forbidden_statements(script: str) -> None:
    with pytest.raises(WorkflowScriptError):
        execute(script, {"d": {"a": 1}, "x": 1})


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('legal_decision == "approve"', True),
        ('legal_decision != "approve" and not flag', False),
        ('"P7D"', "P7D"),
        ('"2024-10-12T17:00:00+08:00"', "2024-10-12T17:00:00+08:00"),
        ("len(items) > 2 and max(items) == 3", True),
        ("sum(x for x in items if x > 1)", 5),
        ("[x * 2 for x in items if x in allowed]", [2, 6]),
        ("{k: v for k, v in d.items()}", {"a": 1}),
        ('d.get("missing", 0) + d["a"]', 1),
        ('"-".join(sorted(["b", "a"]))', "a-b"),
        ('f"plan {plan_id}"', "plan 7"),
        ("due.year", 2026),
        ("amount * 2", Decimal("3.00")),
        ("round(2.567, 2)", 2.57),
        ("items[1:]", [2, 3]),
        ('"x" if flag else "y"', "x"),
        ("abs(-3) + int('4') + float(1)", 8.0),
        ("any([flag, False]) and all([flag])", True),
        ("str(plan_id).startswith('7')", True),
    ],
)
def test_allowed_expressions(expression: str, expected: object) -> None:
    data = {
        "legal_decision": "approve",
        "flag": True,
        "items": [1, 2, 3],
        "allowed": {1, 3},
        "d": {"a": 1},
        "plan_id": 7,
        "due": date(2026, 11, 2),
        "amount": Decimal("1.50"),
    }
    assert evaluate(expression, data) == expected


def test_scripts_assign_and_delete_plain_names() -> None:
    data = {"n": 2, "tmp": "x", "items": [1, 2]}
    execute("total = n * 10\nif total > 5:\n    big = True\nfor i in items:\n    total += i\ndel tmp\nd = {'k': 1}\nd['j'] = 2", data)
    assert data == {"n": 2, "items": [1, 2], "total": 23, "big": True, "i": 2, "d": {"k": 1, "j": 2}}


def test_runtime_errors_are_clear() -> None:
    with pytest.raises(WorkflowScriptError, match="NameError"):
        evaluate("undefined_name == 1", {})
    with pytest.raises(WorkflowScriptError, match="ZeroDivisionError"):
        execute("x = 1 / 0", {})


def test_registered_helpers_are_callable_and_protected() -> None:
    @script_helper("engine_test_double")
    def double(x: int) -> int:
        return 2 * x

    try:
        assert evaluate("engine_test_double(4)", {}) == 8
        with pytest.raises(WorkflowScriptError):
            execute("engine_test_double = 1", {})
        with pytest.raises(ValueError):
            script_helper("_hidden")(double)
        with pytest.raises(ValueError):
            script_helper("eval")(double)
    finally:
        scripting._HELPERS.pop("engine_test_double", None)


def test_timer_and_condition_through_the_engine_interface() -> None:
    """SpiffWorkflow calls the engine with a task; errors name the element."""

    class Spec:
        bpmn_name = "Lawful?"
        bpmn_id = "legal_gateway"
        name = "legal_gateway"

    class Workflow:
        class spec:  # noqa: N801 - mimics workflow.spec.name
            name = "plan_approval"

    class Task:
        data = {"legal_decision": "return"}
        task_spec = Spec()
        workflow = Workflow()

    engine = scripting.SafeScriptEngine()
    assert engine.evaluate(Task(), 'legal_decision == "approve"') is False
    assert engine.evaluate(Task(), '"P7D"') == "P7D"
    with pytest.raises(WorkflowScriptError, match="Lawful"):
        engine.evaluate(Task(), "().__class__")
