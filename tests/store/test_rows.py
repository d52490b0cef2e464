"""An object built by `loaded` for a row INSERTed by hand behaves as one the ORM loaded."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from launchops.store import session_scope
from launchops.store.models import Incident
from launchops.store.rows import loaded, with_defaults

_TABLE = Incident.__table__  # type: ignore[attr-defined]


def test_with_defaults_fills_what_the_model_would_and_leaves_the_key_out() -> None:
    values = with_defaults(Incident, severity="p3", title="Slow", declared_by="ann")
    built = Incident(severity="p3", title="Slow", declared_by="ann")
    assert "id" not in values
    assert set(values) == {c.key for c in _TABLE.columns} - {"id"}
    assert {k: v for k, v in values.items() if k != "declared_at"} == {
        k: getattr(built, k) for k in values if k != "declared_at"
    }
    assert with_defaults(Incident, severity="p3")["origin"] is not with_defaults(Incident)["origin"]


def test_a_loaded_row_is_tracked_and_its_changes_are_flushed(engine: Engine) -> None:
    values = with_defaults(Incident, severity="p2", title="Slow", declared_by="ann")
    with session_scope(engine) as session:
        new_id = session.connection().execute(insert(_TABLE).returning(_TABLE.c.id), values)
        incident = loaded(session, Incident, {**values, "id": new_id.scalar_one()})
        assert incident in session and incident.title == "Slow" and incident.status == "open"
        incident.status = "acknowledged"
    with session_scope(engine) as session:
        stored = session.get(Incident, incident.id)
        assert stored is not None
        assert (stored.status, stored.title, stored.severity) == ("acknowledged", "Slow", "p2")
