"""Rows written as plain INSERTs, and the ORM objects that stand for them afterwards.

A hot write path (a declaration) INSERTs its row as one Core statement rather than through
the unit of work's flush, yet later code still wants the ORM object, tracked by the session
so that changing it is an UPDATE at the commit. Building that object with `Model(**values)`
runs SQLModel's and SQLAlchemy's per-attribute set events for every column (~70 µs for an
incident's 22); the ORM builds the objects it loads without them, and so does `loaded`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import class_mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state
from sqlmodel import Session, SQLModel

Model = TypeVar("Model", bound=SQLModel)


def with_defaults(model: type[SQLModel], **values: Any) -> dict[str, Any]:
    """A new row's columns: `values`, plus every other field's default as `model(**values)`
    would fill it in (default factories called, so each row gets its own dict or timestamp),
    except the primary key's, which the database assigns."""
    keys = {column.key for column in class_mapper(model).primary_key}
    defaults = {
        name: field.get_default(call_default_factory=True)
        for name, field in model.model_fields.items()
        if name not in values and name not in keys and not field.is_required()
    }
    return {**defaults, **values}


def loaded(session: Session, model: type[Model], values: dict[str, Any]) -> Model:
    """The object for a row already in the database (`values` has every column, its primary
    key included), tracked by `session` as if it had loaded it: later changes are UPDATEs.

    Built as the ORM builds a loaded row: a bare instance whose attribute dict is filled in
    directly: an incident's object ~95 -> ~25 µs; an in-process P3 declaration on SQLite,
    fastest of 8 interleaved runs, 1.70 -> 1.56 ms CPU."""
    instance: Model = class_mapper(model).class_manager.new_instance()
    instance_state(instance).dict.update(values)
    make_transient_to_detached(instance)  # its identity from the primary key: persistent
    session.add(instance)
    return instance
