"""Which pydantic class each model of a widget was, so a load rebuilds exactly those.

A widget's JSON cannot tell its classes apart: ``Card(...)`` and the
``DynamicWidgetRoot`` that ``WidgetTemplate.build()`` makes serialize alike, and so do a
``Text`` child and a ``DynamicWidgetComponent`` of type ``"Text"``. Validated against the
SDK's widget union, a template's output becomes a deprecated named class and loses every
prop that class does not know; validated as dynamic, a ``Card`` stops being a ``Card``
(``isinstance(sender.widget, Card)`` fails in ``action()``).

So the store records, beside the payload, the class of every model in the widget
(:func:`record_classes`), and rebuilds the tree bottom-up from the payload with exactly those
classes (:func:`rebuild_widget`): each model is validated from its own props with its children
already built, and pydantic keeps an instance of the right class as it is.

A record is JSON: ``{"c": class, "k": {key: record}}`` for a model (or ``{"k": ...}``
for a plain dict holding models), ``{"i": [record or null, ...]}`` for a list. Classes
of ``chatkit.widgets`` and ``chatkit.actions`` are named by their class name, others
(a project's own subclass) by ``module.QualName``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from chatkit import actions, widgets
from django.utils.module_loading import import_string
from pydantic import BaseModel

logger = logging.getLogger("django_chatkit")

__all__ = ["rebuild_widget", "record_classes"]

Record = dict[str, Any]

#: The SDK's own classes, by name.
SDK_CLASSES: dict[str, type[BaseModel]] = {
    name: value
    for module in (widgets, actions)
    for name, value in vars(module).items()
    if isinstance(value, type)
    and issubclass(value, BaseModel)
    and value.__module__ == module.__name__
}


def _class_name(cls: type[BaseModel]) -> str:
    if SDK_CLASSES.get(cls.__name__) is cls:
        return cls.__name__
    return f"{cls.__module__}.{cls.__qualname__}"


def _load_class(name: str) -> type[BaseModel] | None:
    cls = SDK_CLASSES.get(name)
    if cls is not None:
        return cls
    try:
        cls = import_string(name)
    except ImportError:
        cls = None
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return cls
    logger.warning("Widget class %s is gone: that part of the widget loads as a plain one", name)
    return None


def _record(value: Any) -> Record | None:
    """The record of ``value`` (``None``: nothing in it needs a class)."""
    if isinstance(value, BaseModel):
        data = dict(value)  # fields, by attribute name
        data.update(value.__pydantic_extra__ or {})
        keys = {
            _dump_key(type(value), name): r
            for name, item in data.items()
            if (r := _record(item)) is not None
        }
        node: Record = {"c": _class_name(type(value))}
        if keys:
            node["k"] = keys
        return node
    if isinstance(value, dict):
        keys = {str(k): r for k, item in value.items() if (r := _record(item)) is not None}
        return {"k": keys} if keys else None
    if isinstance(value, (list, tuple)):
        records = [_record(item) for item in value]
        return {"i": records} if any(r is not None for r in records) else None
    return None


def _dump_key(cls: type[BaseModel], name: str) -> str:
    """The key of field ``name`` in ``cls``'s JSON (its serialization alias, if any)."""
    field = cls.model_fields.get(name)
    if field is None:  # an extra: stored under its own name
        return name
    return field.serialization_alias or field.alias or name


def record_classes(widget: BaseModel) -> str:
    """The JSON record of the classes in ``widget`` (for :func:`rebuild_widget`)."""
    return json.dumps(_record(widget), separators=(",", ":"))


def _rebuild(data: Any, node: Record | None) -> Any:
    if node is None:
        return data
    if "i" in node:
        if not isinstance(data, list):
            return data
        return [_rebuild(item, r) for item, r in zip(data, node["i"], strict=False)] + data[
            len(node["i"]) :
        ]
    if not isinstance(data, dict):
        return data
    built = dict(data)
    for key, child in node.get("k", {}).items():
        if key in built:
            built[key] = _rebuild(built[key], child)
    cls = _load_class(node["c"]) if "c" in node else None
    # A plain dict, or a class that is gone: its parent validates it by the field's type.
    return built if cls is None else cls.model_validate(built)


def rebuild_widget(data: dict[str, Any], classes: str) -> BaseModel:
    """The widget whose JSON is ``data``, with the classes :func:`record_classes` remembered.

    Without a record (a row saved before classes were recorded), or when the root's
    class is gone, the widget loads as a ``DynamicWidgetRoot``, which keeps every prop.
    """
    widget = _rebuild(data, json.loads(classes)) if classes else None
    if isinstance(widget, BaseModel):
        return widget
    return widgets.DynamicWidgetRoot.model_validate(data)
