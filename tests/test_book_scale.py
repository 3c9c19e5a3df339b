"""The demo's book at scale: ``generate_book(seed, scale=k)`` is k times the demo's book, every
account, contact, deal and signal distinct, loadable into one memory, and its first shard is
the demo's book unchanged."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest

from revfield.demo.book import Book, generate_book
from revfield.demo.replay import load_book
from revfield.ingest import ingest_signals
from revfield.memory import Store

DEMO_BOOK = "c16ef77409841ebe3efa783ff348bb01bfaa95d43189f6762343db87c89b37e9"
"""The demo's book (seed 7), as ``revfield demo`` replays it and its figures quote."""


def _digest(book: Book) -> str:
    parts = [book.teams, book.users, book.accounts, book.contacts, book.deals, book.signals]
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()


def test_the_demo_book_is_the_one_the_demo_always_replayed():
    assert _digest(generate_book()) == DEMO_BOOK
    assert _digest(generate_book(7, scale=1)) == DEMO_BOOK


@pytest.mark.parametrize("scale", [4, 16])
def test_a_larger_book_is_that_many_demo_books_all_distinct(scale):
    one, big = generate_book(7), generate_book(7, scale=scale)
    # k shards of the demo's size: a few accounts fewer or more per shard (taken domains)
    assert scale * len(one.accounts) * 0.95 <= len(big.accounts) <= scale * 240
    for rows, key in (
        (big.accounts, "id"),
        (big.accounts, "name"),
        (big.accounts, "domain"),
        (big.contacts, "email"),
        (big.deals, "id"),
        (big.users, "id"),
        (big.users, "email"),
    ):
        values = [r[key] for r in rows]
        assert len(set(values)) == len(values), key
    keys = [(s["source"], s["external_id"]) for s in big.signals]
    assert len(set(keys)) == len(keys)
    # the first shard is the demo's book; every account belongs to a seller of the book
    assert big.accounts[: len(one.accounts)] == one.accounts
    sellers = {u["id"] for u in big.users if u["role"] == "seller"}
    assert {a["owner_id"] for a in big.accounts} == sellers
    # the same mix as the demo's book, k times over
    for kind, n in Counter(a["customer_state"] for a in one.accounts).items():
        assert abs(sum(a["customer_state"] == kind for a in big.accounts) / scale - n) <= 0.1 * n
    assert abs(len(big.signals) / scale - len(one.signals)) <= 0.1 * len(one.signals)


def test_a_4x_book_loads_and_ingests_into_one_memory(store: Store):
    book = generate_book(7, scale=4)
    load_book(store, book)
    report = ingest_signals(book.signals, store=store, source="book")
    # every signal the book makes is one the ingest schema takes (ticket priorities and
    # meeting times once came out in shapes it refuses: 102 dead letters in every demo)
    assert (report.accepted, report.dead_lettered) == (len(book.signals), 0), report.problems[:3]
    assert report.duplicates == report.unattributed == 0
    # every signal lands on the book's own account and contact: nothing new appears
    assert report.accounts_created == report.contacts_created == 0


def test_a_book_too_large_for_one_shard_is_refused_not_generated_forever():
    with pytest.raises(ValueError, match="larger `scale`"):
        generate_book(7, prospects=6000, customers=1000)
    with pytest.raises(ValueError, match="scale"):
        generate_book(7, scale=0)
