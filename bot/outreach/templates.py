"""The approved WhatsApp templates (whatsapp_templates.yml) and the
check of a template send against them, in Meta's wire format.

Meta refuses a template whose name, language or parameter count differs
from what it approved, after the request has left; checking here turns
that into a 422 naming the field, before any call."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Tuple

import yaml

from bot.errors import InvalidInput
from bot.outreach.settings import outreach_settings

CATEGORIES = ("utility", "marketing", "authentication")
BUTTON_TYPES = ("quick_reply", "url", "copy_code")
PARAMETER_TYPES = ("text", "currency", "date_time", "image", "document", "video", "payload", "coupon_code")


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    category: str
    body: Tuple[str, ...]  # what fills {{1}}, {{2}}... of the body, in order
    header: Tuple[str, ...] = ()
    buttons: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()  # (sub_type, fills) per button index

    def message(self, values: Mapping[str, str]) -> Dict[str, Any]:
        """The ``template`` message body with each parameter filled from ``values``."""
        components: List[Dict[str, Any]] = []
        for kind, fills in (("header", self.header), ("body", self.body)):
            if fills:
                components.append({"type": kind, "parameters": [
                    {"type": "text", "text": str(values[name])} for name in fills]})
        for index, (sub_type, fills) in enumerate(self.buttons):
            parameter_type = "coupon_code" if sub_type == "copy_code" else "text"
            key = "coupon_code" if sub_type == "copy_code" else "text"
            components.append({"type": "button", "sub_type": sub_type, "index": str(index), "parameters": [
                {"type": parameter_type, key: str(values[name])} for name in fills]})
        body: Dict[str, Any] = {"name": self.name, "language": {"code": self.language}}
        if components:
            body["components"] = components
        return {"type": "template", "template": body}


class TemplateBook:
    def __init__(self, templates: Dict[str, Template]) -> None:
        self.templates = templates

    @classmethod
    def load(cls, path: Path) -> "TemplateBook":
        data = yaml.safe_load(Path(path).read_text()) or {}
        templates = {}
        for name, spec in (data.get("templates") or {}).items():
            if spec.get("category") not in CATEGORIES:
                raise ValueError(f"{path}: template {name}: category must be one of {', '.join(CATEGORIES)}")
            templates[name] = Template(
                name=name, language=str(spec.get("language") or "pt_BR"), category=spec["category"],
                body=tuple(spec.get("body") or ()), header=tuple(spec.get("header") or ()),
                buttons=tuple((b["type"], tuple(b.get("fills") or ())) for b in spec.get("buttons") or ()))
        return cls(templates)

    def get(self, name: str) -> Template:
        if name not in self.templates:
            raise InvalidInput("template_name", f"unknown template {name!r} (configured: "
                                                f"{', '.join(sorted(self.templates))})")
        return self.templates[name]

    def checked(self, name: Any, language: Any, components: Any) -> Dict[str, Any]:
        """The wire body of a send-template request whose components come in
        Meta's shape; 422 naming the field when they do not fit the approved template."""
        if not isinstance(name, str) or not name:
            raise InvalidInput("template_name", "required: the approved template's name")
        template = self.get(name)
        if language is None:
            language = template.language
        if language != template.language:
            raise InvalidInput("language", f"template {name} is approved in {template.language}")
        components = [] if components is None else components
        if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
            raise InvalidInput("components", "must be a list of objects in Meta's shape")
        wanted = {"header": len(template.header), "body": len(template.body)}
        seen = {"header": 0, "body": 0}
        buttons = set()
        for number, component in enumerate(components):
            field = f"components[{number}]"
            kind = component.get("type")
            parameters = component.get("parameters", [])
            if not isinstance(parameters, list) or not all(
                    isinstance(p, dict) and p.get("type") in PARAMETER_TYPES for p in parameters):
                raise InvalidInput(f"{field}.parameters", f"each needs a type among {', '.join(PARAMETER_TYPES)}")
            if kind in seen:
                seen[kind] = len(parameters)
            elif kind == "button":
                index = str(component.get("index"))
                if not index.isdigit() or int(index) >= len(template.buttons):
                    raise InvalidInput(f"{field}.index", f"template {name} has {len(template.buttons)} button(s)")
                sub_type, fills = template.buttons[int(index)]
                if component.get("sub_type") != sub_type:
                    raise InvalidInput(f"{field}.sub_type", f"button {index} of {name} is {sub_type}")
                if len(parameters) != len(fills):
                    raise InvalidInput(f"{field}.parameters", f"button {index} takes {len(fills)} parameter(s)")
                buttons.add(int(index))
            else:
                raise InvalidInput(f"{field}.type", "must be header, body or button")
        for kind, count in wanted.items():
            if seen[kind] != count:
                raise InvalidInput("components", f"template {name} takes {count} {kind} parameter(s), "
                                                 f"got {seen[kind]}")
        missing = [i for i, (_, fills) in enumerate(template.buttons) if fills and i not in buttons]
        if missing:
            raise InvalidInput("components", f"template {name} needs the parameters of button(s) {missing}")
        body: Dict[str, Any] = {"name": name, "language": {"code": language}}
        if components:
            body["components"] = components
        return {"type": "template", "template": body}


@lru_cache(maxsize=1)
def approved_templates() -> TemplateBook:
    """The process's templates, read once from ``OUTREACH_TEMPLATES_FILE``."""
    return TemplateBook.load(outreach_settings().templates_file)
