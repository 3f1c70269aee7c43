"""Validate an XML document against the XSD subset the REFI-QDA project schema uses.

Neither ``xmlschema`` nor ``lxml`` is in the locked environment, so this reads the
schema with ElementTree and checks what ``Project-mrt2019.xsd`` declares: the root
element, each complex type's content model (``sequence``/``choice`` with
``minOccurs``/``maxOccurs``, matched as a regular expression over the child element
names), required and undeclared attributes, and the simple types' patterns,
enumerations and the built-in types it names (integer, boolean, decimal, date,
dateTime). When ``xmlschema`` is installed the tests validate with it as well.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

XS = "{http://www.w3.org/2001/XMLSchema}"
_BUILTIN = {
    "xsd:string": None, "xsd:token": None,
    "xsd:integer": r"[+-]?\d+",
    "xsd:boolean": r"true|false|1|0",
    "xsd:decimal": r"[+-]?(\d+(\.\d*)?|\.\d+)",
    "xsd:date": r"-?\d{4,}-\d\d-\d\d(Z|[+-]\d\d:\d\d)?",
    "xsd:dateTime": r"-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?",
}


class Schema:
    """The element and type declarations of one XSD file."""

    def __init__(self, path: Path) -> None:
        root = ET.parse(path).getroot()
        self.ns = root.get("targetNamespace", "")
        self.elements = {e.get("name"): e.get("type") for e in root.findall(f"{XS}element")}
        self.complex = {t.get("name"): t for t in root.findall(f"{XS}complexType")}
        self.simple = {t.get("name"): t for t in root.findall(f"{XS}simpleType")}

    def validate(self, doc: ET.Element) -> list[str]:
        """Every problem found in ``doc`` (empty when it is valid)."""
        name = self._local(doc.tag)
        if name is None or name not in self.elements:
            return [f"root element {doc.tag} is not declared"]
        errors: list[str] = []
        self._check(doc, self.elements[name], f"/{name}", errors)
        return errors

    def _local(self, tag: str) -> str | None:
        prefix = f"{{{self.ns}}}"
        return tag[len(prefix):] if tag.startswith(prefix) else None

    def _check(self, elem: ET.Element, type_name: str, where: str, errors: list[str]) -> None:
        if type_name not in self.complex:  # a simple type: text content only
            if len(elem):
                errors.append(f"{where}: {type_name} has no child elements")
            self._value(elem.text or "", type_name, where, errors)
            return
        ctype = self.complex[type_name]
        self._attributes(elem, ctype, where, errors)
        model = next((c for c in ctype if c.tag in (f"{XS}sequence", f"{XS}choice")), None)
        names = [self._local(c.tag) or c.tag for c in elem]
        pattern = self._regex(model) if model is not None else ""
        if not re.fullmatch(pattern, "".join(f"<{n}>" for n in names)):
            errors.append(f"{where}: children {names} do not fit {type_name}'s content model")
            return
        types = self._child_types(model) if model is not None else {}
        for i, child in enumerate(elem):
            self._check(child, types[names[i]], f"{where}/{names[i]}[{i}]", errors)

    def _attributes(self, elem: ET.Element, ctype: ET.Element, where: str,
                    errors: list[str]) -> None:
        declared = {a.get("name"): a for a in ctype.findall(f"{XS}attribute")}
        for name in elem.attrib:
            if name.startswith("{"):
                continue  # xsi: and other namespaced attributes
            if name not in declared:
                errors.append(f"{where}: attribute {name!r} is not declared")
        for name, decl in declared.items():
            if name not in elem.attrib:
                if decl.get("use") == "required":
                    errors.append(f"{where}: required attribute {name!r} is missing")
                continue
            self._value(elem.attrib[name], decl.get("type", "xsd:string"), f"{where}@{name}",
                        errors)

    def _value(self, value: str, type_name: str, where: str, errors: list[str]) -> None:
        if type_name in _BUILTIN:
            rule = _BUILTIN[type_name]
            if rule is not None and not re.fullmatch(rule, value.strip()):
                errors.append(f"{where}: {value!r} is not a valid {type_name}")
            return
        simple = self.simple[type_name]
        restriction = simple.find(f"{XS}restriction")
        assert restriction is not None
        value = " ".join(value.split())  # xsd:token collapses whitespace
        patterns = [p.get("value") for p in restriction.findall(f"{XS}pattern")]
        enums = [e.get("value") for e in restriction.findall(f"{XS}enumeration")]
        if patterns and not any(re.fullmatch(p, value) for p in patterns):
            errors.append(f"{where}: {value!r} does not match {type_name}")
        if enums and value not in enums:
            errors.append(f"{where}: {value!r} is not one of {type_name}'s values")

    def _regex(self, node: ET.Element) -> str:
        if node.tag == f"{XS}element":
            body = re.escape(f"<{node.get('name')}>")
        else:
            parts = [self._regex(c) for c in node
                     if c.tag in (f"{XS}element", f"{XS}sequence", f"{XS}choice")]
            body = "".join(parts) if node.tag == f"{XS}sequence" else "|".join(parts)
        low = node.get("minOccurs", "1")
        high = node.get("maxOccurs", "1")
        return f"(?:{body}){{{low},{'' if high == 'unbounded' else high}}}"

    def _child_types(self, node: ET.Element) -> dict[str, str]:
        out: dict[str, str] = {}
        for c in node.iter(f"{XS}element"):
            out[c.get("name")] = c.get("type")
        return out
