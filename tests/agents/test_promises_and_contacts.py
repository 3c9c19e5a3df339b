"""What the agents read from memory: a promise is as good as the worst capability it names,
and a contact who can't be reached is not written to while someone else can be."""

from __future__ import annotations

from revfield.agents._common import pick_contact
from revfield.agents._playbook import check_promise
from revfield.memory import recall
from revfield.memory._events import EventView
from tests.agents import world
from tests.factories import T0

CAPS = world.PACK.playbook.capabilities


def test_a_promise_naming_an_unsupported_capability_is_unsupported_whatever_else_it_names():
    mixed = check_promise("We promised the Salesforce sync would run on-prem", CAPS)
    assert (mixed["capability"], mixed["status"]) == ("onprem", "unsupported")
    kept = check_promise("two-way Salesforce sync live in the first month", CAPS)
    assert (kept["capability"], kept["status"]) == ("salesforce-sync", "supported")


def test_the_events_own_contact_is_skipped_when_they_left_and_someone_else_is_reachable(store):
    world.people(store)
    world.account(store, "acme.io", state="customer")
    gone = world.contact(store, "acme.io", "Dana Wu", do_not_contact=True)
    other = world.contact(store, "acme.io", "Lee Park", role="VP Sales")
    with store.read() as s:
        memory = recall(s, "acme.io")
    event = EventView(1, "meeting_booked", "acme.io", (), "", T0, contact_id=gone)
    chosen = pick_contact(memory, event)
    assert chosen is not None and chosen.id == other


def test_an_unreachable_contact_is_still_named_when_nobody_else_is_there(store):
    world.people(store)
    world.account(store, "solo.io")
    gone = world.contact(store, "solo.io", "Dana Wu", do_not_contact=True)
    with store.read() as s:
        memory = recall(s, "solo.io")
    event = EventView(1, "intent_surge", "solo.io", (), "", T0, contact_id=gone)
    chosen = pick_contact(memory, event)
    assert chosen is not None and chosen.id == gone  # the policy then blocks it (opted-out)
