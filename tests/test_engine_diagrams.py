"""Diagrams are checked at startup: a bad one stops the app with its file and line."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import build_app
from workflows.specs import DiagramError, SpecLibrary

TEST_BPMN = Path(__file__).parent / "bpmn"
GOOD = (TEST_BPMN / "engine_approval.bpmn").read_text()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.bpmn"
    path.write_text(text)
    return path


def test_all_project_and_test_diagrams_load() -> None:
    library = SpecLibrary.from_dirs([TEST_BPMN])
    assert {"engine_approval", "engine_timer", "engine_service", "engine_parallel"} <= set(library.specs)


def test_xsd_violation_names_file_and_line(tmp_path: Path) -> None:
    lines = GOOD.splitlines()
    line_no = next(i for i, line in enumerate(lines, 1) if '<bpmn:userTask id="legal_review"' in line)
    lines[line_no - 1] = lines[line_no - 1].replace("<bpmn:userTask ", '<bpmn:userTask priority="high" ')
    path = _write(tmp_path, "\n".join(lines))
    with pytest.raises(DiagramError) as caught:
        SpecLibrary.from_dirs([tmp_path])
    message = str(caught.value)
    assert str(path) in message and f":{line_no}:" in message and "priority" in message


def test_bad_diagram_fails_app_startup(tmp_path: Path, database_url: str) -> None:
    _write(tmp_path, GOOD.replace("<bpmn:startEvent", "<bpmn:startEvnt", 1))
    with pytest.raises(DiagramError, match=re.escape(str(tmp_path / "broken.bpmn"))):
        build_app(database_url, BPMN_EXTRA_DIRS=[str(tmp_path)])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("status = \"published\"", "status = ().__class__"), "refused"),
        (("legal_decision == \"approve\"", "__import__('os')"), "refused"),
        (('value="&quot;plan &quot; + str(plan_id)"', 'value="&quot;{0.__class__}&quot;.format(plan_id)"'), "refused"),
        (('name="legal_reviewer"', 'name="legal reviewers"'), "lane named after a role"),
        (('<spiffworkflow:property name="formKey" value="engine.review" />', ""), "formKey"),
        (('name="dueInDays" value="5"', 'name="dueInDays" value="five"'), "dueInDays"),
        (('name="dueInDays"', 'name="dueIn"'), "unknown properties"),
        (('serviceTaskOperator id="engine.publish"', 'serviceTaskOperator id="engine.publish" resultVariable="out"'), "resultVariable"),
    ],
)
def test_startup_checks(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in GOOD
    _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(DiagramError, match=expected) as caught:
        SpecLibrary.from_dirs([tmp_path])
    assert "broken.bpmn" in str(caught.value)


def test_spec_hash_is_stable_across_checkouts(tmp_path: Path) -> None:
    """The hash ignores where the file lives, so moving the checkout adds no spec version."""
    (tmp_path / "engine_approval.bpmn").write_text(GOOD)
    here = SpecLibrary.from_dirs([TEST_BPMN]).specs["engine_approval"]
    there = SpecLibrary.from_dirs([tmp_path]).specs["engine_approval"]
    assert here.content_hash == there.content_hash
    changed = GOOD.replace('value="5"', 'value="6"')
    (tmp_path / "engine_approval.bpmn").write_text(changed)
    assert SpecLibrary.from_dirs([tmp_path]).specs["engine_approval"].content_hash != here.content_hash
