"""Babel extraction of the human-facing names in BPMN diagrams.

Task titles, lanes and gateway labels come from the diagrams at run time and are
shown through gettext, so ``pybabel extract`` must find them in the .bpmn files.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from lxml import etree

NAMED = {"userTask", "serviceTask", "scriptTask", "manualTask", "startEvent", "endEvent", "boundaryEvent",
         "intermediateCatchEvent", "intermediateThrowEvent", "exclusiveGateway", "parallelGateway",
         "inclusiveGateway", "sequenceFlow", "lane", "participant", "callActivity", "subProcess", "process"}


def extract_bpmn(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extractor: yields (line, funcname, message, comments) for every named element."""
    tree = etree.parse(fileobj)
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        name = element.get("name")
        if local in NAMED and name:
            yield element.sourceline or 0, "_", name, [f"BPMN {local} {element.get('id')}"]
