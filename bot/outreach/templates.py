"""The approved WhatsApp templates (whatsapp_templates.yml) and the
check of a template send against them, in Meta's wire format.

Meta refuses a template whose name, language or parameter count differs
from what it approved, after the request has left; checking here turns
that into a 422 naming the field, before any call."""
from __future__ import annotations

import re
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
MAX_PARAMETER = 1024  # Meta's limit for a text parameter
PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    category: str
    body: Tuple[str, ...]  # what fills {{1}}, {{2}}... of the body, in order
    header: Tuple[str, ...] = ()
    buttons: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()  # (sub_type, fills) per button index
    text: str = ""  # the approved body with {{1}}, {{2}}...: what the desk shows and records

    def parameters(self) -> Tuple[str, ...]:
        """Every value the template needs, once each, in order of first use."""
        names = list(self.header) + list(self.body) + [n for _, fills in self.buttons for n in fills]
        return tuple(dict.fromkeys(names))

    def render(self, values: Mapping[str, str]) -> str:
        """The body as the customer reads it (the transcript's copy of a template)."""
        if not self.text:
            return f"[template {self.name}]"
        return PLACEHOLDER.sub(lambda m: str(values.get(self.body[int(m.group(1)) - 1], m.group(0)))
                               if 0 < int(m.group(1)) <= len(self.body) else m.group(0), self.text)

    def filled(self, values: Any) -> Dict[str, str]:
        """``values`` checked for :meth:`message`: one short single-line text per
        parameter (Meta refuses newlines and tabs in template parameters), 422 naming it."""
        if not isinstance(values, dict):
            raise InvalidInput("parameters", f"an object with {', '.join(self.parameters()) or 'no keys'}")
        unknown = sorted(set(values) - set(self.parameters()))
        if unknown:
            raise InvalidInput(f"parameters.{unknown[0]}", f"template {self.name} has no such parameter")
        checked = {}
        for name in self.parameters():
            value = values.get(name)
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(f"parameters.{name}", "required: a non-empty text")
            if len(value) > MAX_PARAMETER or re.search(r"[\n\t]| {5,}", value):
                raise InvalidInput(f"parameters.{name}", f"one line of at most {MAX_PARAMETER} characters, "
                                                         "no tabs or runs of spaces")
            checked[name] = value.strip()
        return checked

    def as_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "language": self.language, "category": self.category,
                "text": self.text, "parameters": list(self.parameters()), "body_parameters": list(self.body)}

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
                buttons=tuple((b["type"], tuple(b.get("fills") or ())) for b in spec.get("buttons") or ()),
                text=str(spec.get("text") or "").strip())
            placeholders = {int(n) for n in PLACEHOLDER.findall(templates[name].text)}
            if templates[name].text and placeholders != set(range(1, len(templates[name].body) + 1)):
                raise ValueError(f"{path}: template {name}: text must use {{{{1}}}}..{{{{{len(templates[name].body)}}}}}, "
                                 "one per body parameter")
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
