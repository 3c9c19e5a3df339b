"""What the field's checkpointer holds is saved: when a run returns, and, for a graph invoked
directly, when the field closes — never left only in the process."""

from __future__ import annotations

from revfield.domain import FactType
from tests.agents import world


def _prospect(store) -> int:
    world.people(store)
    world.account(store, "acme.io")
    pat = world.contact(store, "acme.io")
    world.fact(store, "acme.io", FactType.PAIN, "We struggle to get one forecast the board trusts")
    return world.event(store, "acme.io", "intent_surge", "outreach", contact_id=pat)


def test_a_run_is_saved_when_it_returns(store, clock, tmp_path):
    event = _prospect(store)
    with world.field(store, clock, tmp_path) as fld:
        assert fld.run_event(event, "outreach") == "done"
        saved = fld.saver.inner.get_tuple(fld._config("outreach", event))
        assert saved is not None and saved.checkpoint["channel_values"].get("done") is True


def test_a_graph_invoked_directly_is_saved_when_the_field_closes(store, clock, tmp_path):
    event = _prospect(store)
    with world.field(store, clock, tmp_path) as fld:
        config = fld._config("outreach", event)
        fld.graphs["outreach"].invoke({"event_id": event}, config)
        saved = fld.saver.inner.get_tuple(config)
        assert saved is None or not saved.checkpoint["channel_values"].get("done")  # held
        fld.close()
        saved = fld.saver.inner.get_tuple(config)
        assert saved is not None and saved.checkpoint["channel_values"].get("done") is True
