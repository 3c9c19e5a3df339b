"""Ingestion: each good row stored once, each bad row dead-lettered with file, line and field,
good rows around bad ones kept, and re-runs converge to the state of one clean run."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from revfield.ingest import IngestFileError, ingest_file, ingest_signals
from revfield.ingest._schema import MAX_TEXT_CHARS
from revfield.memory import Store
from revfield.memory.models import Account, Contact, DeadLetter, Signal
from tests.factories import make_account, signal, write_jsonl


def rows(store: Store, table: type) -> list[dict]:
    with store.read() as s:
        return [dict(r) for r in s.execute(sa.select(table.__table__)).mappings()]


def dead(store: Store) -> list[dict]:
    return sorted(rows(store, DeadLetter), key=lambda r: r["line"])


def snapshot(store: Store) -> dict[str, list]:
    """Content of the memory, without ids and receive times that differ run to run."""
    signals = sorted(
        (r["source"], r["external_id"], r["kind"], r["account_id"], r["digest"])
        for r in rows(store, Signal)
    )
    letters = sorted(
        (r["line"], r["field"], r["reason"], r["raw"]) for r in rows(store, DeadLetter)
    )
    accounts = sorted(r["id"] for r in rows(store, Account))
    contacts = sorted((r["email"], r["account_id"]) for r in rows(store, Contact))
    return {"signals": signals, "dead": letters, "accounts": accounts, "contacts": contacts}


# -- the good path ---------------------------------------------------------------------------


def test_good_rows_are_stored_once_however_often_the_file_is_ingested(store, clock, tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [signal(n) for n in range(1, 11)])
    first = ingest_file(path, store=store, clock=clock)
    second = ingest_file(path, store=store, clock=clock)
    assert (first.accepted, first.duplicates, first.dead_lettered) == (10, 0, 0)
    assert (second.accepted, second.duplicates, second.dead_lettered) == (0, 10, 0)
    assert len(rows(store, Signal)) == 10
    assert second.duplicate_lines[0][0] == 1  # names the line that was already stored


def test_stored_signal_keeps_what_was_sent(store, clock, tmp_path):
    rec = signal(
        1,
        kind="email_replied",
        contact_email="Jane.Doe@Acme.com",
        text="Let's talk",
        occurred_at="2026-11-02T10:00:00+01:00",
        payload={"thread": "t-9"},
    )
    ingest_file(write_jsonl(tmp_path / "s.jsonl", [rec]), store=store, clock=clock)
    (row,) = rows(store, Signal)
    assert row["kind"] == "email_replied"
    assert row["text"] == "Let's talk"
    assert row["payload"] == {"thread": "t-9"}
    assert row["occurred_at"].isoformat() == "2026-11-02T09:00:00+00:00"  # stored in UTC
    assert row["received_at"] == clock.now()
    assert row["contact_email"] == "jane.doe@acme.com"


def test_python_api_accepts_mappings_and_dead_letters_bad_ones(store, clock):
    report = ingest_signals(
        [signal(1), {"source": "web"}, signal(2)], store=store, clock=clock, source="crm-sync"
    )
    assert (report.accepted, report.dead_lettered) == (2, 1)
    (letter,) = dead(store)
    assert (letter["source_file"], letter["line"], letter["field"]) == (
        "crm-sync",
        2,
        "external_id",
    )


def test_csv_with_extra_columns_puts_them_in_the_payload(store, clock, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(
        "source,external_id,kind,occurred_at,account_domain,campaign,payload\n"
        'ads,a1,web_visit,2026-11-02T09:00:00Z,acme.com,fall-promo,"{""url"": ""/x""}"\n',
        encoding="utf-8",
    )
    report = ingest_file(path, store=store, clock=clock)
    assert report.accepted == 1
    (row,) = rows(store, Signal)
    assert row["payload"] == {"url": "/x", "campaign": "fall-promo"}


def test_csv_values_are_typed_by_the_kind_schema(store, clock, tmp_path):
    path = tmp_path / "nps.csv"
    path.write_text(
        "source,external_id,kind,occurred_at,account_domain,score\n"
        "survey,n1,nps_response,2026-11-02T09:00:00Z,acme.com,9\n",
        encoding="utf-8",
    )
    ingest_file(path, store=store, clock=clock)
    assert rows(store, Signal)[0]["payload"] == {"score": 9}


# -- identity resolution -------------------------------------------------------------------------


def test_an_unknown_company_domain_starts_a_prospect_account(store, clock):
    report = ingest_signals(
        [signal(1, account_domain="https://www.NewCo.io/pricing")], store=store, clock=clock
    )
    (account,) = rows(store, Account)
    assert report.accounts_created == 1
    assert (account["id"], account["domain"], account["customer_state"]) == (
        "newco.io",
        "newco.io",
        "prospect",
    )
    assert rows(store, Signal)[0]["account_id"] == "newco.io"


def test_a_contact_email_resolves_its_account_by_domain_and_creates_the_contact(store, clock):
    ingest_signals([signal(1, account_domain="acme.com")], store=store, clock=clock)
    ingest_signals(
        [
            signal(
                2,
                account_domain=None,
                contact_email="bo@acme.com",
                contact_name="Bo Li",
                contact_role="CFO",
            )
        ],
        store=store,
        clock=clock,
    )
    (contact,) = rows(store, Contact)
    assert (contact["email"], contact["account_id"], contact["name"], contact["role"]) == (
        "bo@acme.com",
        "acme.com",
        "Bo Li",
        "CFO",
    )
    assert len(rows(store, Account)) == 1
    assert [r["contact_id"] for r in rows(store, Signal) if r["external_id"] == "e-2"] == [
        contact["id"]
    ]


def test_free_mail_never_creates_or_matches_an_account(store, clock):
    make_account(store, "gmail-corp", domain="gmail.com")  # even if someone registered it
    report = ingest_signals(
        [
            signal(1, account_domain=None, contact_email="pat@gmail.com"),
            signal(2, account_domain=None, contact_email="kim@mail.yahoo.com"),
        ],
        store=store,
        clock=clock,
    )
    assert (report.accepted, report.unattributed, report.accounts_created) == (2, 2, 0)
    assert {r["account_id"] for r in rows(store, Signal)} == {None}
    assert rows(store, Contact) == []


def test_an_explicit_account_id_wins_and_an_unknown_one_is_dead_lettered(store, clock):
    make_account(store, "acme-inc")
    report = ingest_signals(
        [
            signal(1, account_domain=None, account_id="acme-inc", contact_email="al@other.com"),
            signal(2, account_domain=None, account_id="nobody"),
        ],
        store=store,
        clock=clock,
    )
    assert (report.accepted, report.dead_lettered) == (1, 1)
    assert rows(store, Signal)[0]["account_id"] == "acme-inc"
    assert rows(store, Contact)[0]["account_id"] == "acme-inc"
    assert dead(store)[0]["field"] == "account_id"
    assert "no account `nobody`" in dead(store)[0]["reason"]


def test_a_known_contact_keeps_its_account(store, clock):
    make_account(store, "acme-inc", domain="acme.com")
    ingest_signals(
        [signal(1, account_domain=None, contact_email="al@acme.com")], store=store, clock=clock
    )
    ingest_signals(
        [signal(2, account_domain=None, contact_email="al@acme.com")], store=store, clock=clock
    )
    assert {r["account_id"] for r in rows(store, Signal)} == {"acme-inc"}
    assert len(rows(store, Contact)) == 1


# -- bad input: whole file -----------------------------------------------------------------------


def test_missing_file_is_refused_with_its_path(store, clock, tmp_path):
    with pytest.raises(IngestFileError, match=r"nope\.jsonl: no such file"):
        ingest_file(tmp_path / "nope.jsonl", store=store, clock=clock)


def test_unknown_extension_is_refused(store, clock, tmp_path):
    path = tmp_path / "signals.xml"
    path.write_text("<x/>")
    with pytest.raises(IngestFileError, match=r"signals\.xml: unknown file type `\.xml`"):
        ingest_file(path, store=store, clock=clock)


@pytest.mark.parametrize("name", ["empty.jsonl", "empty.csv"])
def test_empty_file_is_refused(store, clock, tmp_path, name):
    path = tmp_path / name
    path.write_text("\n  \n")
    with pytest.raises(IngestFileError, match="file is empty"):
        ingest_file(path, store=store, clock=clock)


def test_csv_header_missing_a_required_column_is_refused_naming_it(store, clock, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("source,external_id,kind,account_domain\nweb,1,web_visit,acme.com\n")
    with pytest.raises(IngestFileError) as err:
        ingest_file(path, store=store, clock=clock)
    assert "s.csv:1:" in str(err.value)
    assert "missing required column `occurred_at`" in str(err.value)
    assert rows(store, DeadLetter) == []


# -- bad input: one row --------------------------------------------------------------------------


BAD_ROWS = [
    pytest.param('{"source": "web", "external_id": ', None, "malformed JSON", id="malformed-json"),
    pytest.param(
        json.dumps({k: v for k, v in signal(9).items() if k != "kind"}),
        "kind",
        "`kind` is missing",
        id="missing-field",
    ),
    pytest.param(
        json.dumps(signal(9, occurred_at=12345678)),
        "occurred_at",
        "expected an ISO 8601 timestamp",
        id="wrong-type",
    ),
    pytest.param(
        json.dumps(signal(9, payload=["not", "an", "object"])),
        "payload",
        "`payload`: input should be an object",
        id="wrong-type-payload",
    ),
    pytest.param(
        json.dumps(signal(9, kind="nps_response", payload={"score": "ten"})),
        "payload.score",
        "`payload.score`",
        id="wrong-payload-type",
    ),
    pytest.param(
        json.dumps(signal(9, kind="web_vist")),
        "kind",
        "unknown kind `web_vist`; did you mean `web_visit`?",
        id="unknown-kind",
    ),
    pytest.param(
        json.dumps(signal(9, occurred_at="2026-11-02T09:00:00")),
        "occurred_at",
        "has no time zone",
        id="naive-timestamp",
    ),
    pytest.param(
        json.dumps(signal(9, text="x" * (MAX_TEXT_CHARS + 1))),
        "text",
        f"{MAX_TEXT_CHARS + 1:,} characters is over the {MAX_TEXT_CHARS:,}-character limit",
        id="text-too-long",
    ),
    pytest.param(
        json.dumps(signal(9, acount_domain="x.com")),
        "acount_domain",
        "did you mean `account_domain`?",
        id="unknown-field",
    ),
    pytest.param(
        json.dumps(signal(9, account_domain=None)),
        "account_id",
        "must name who it is about",
        id="no-identity",
    ),
    pytest.param("[1, 2]", None, "must be a JSON object", id="not-an-object"),
]


@pytest.mark.parametrize(("line", "field", "reason"), BAD_ROWS)
def test_a_bad_row_is_dead_lettered_with_line_field_and_reason_and_its_neighbours_kept(
    store, clock, tmp_path, line, field, reason
):
    path = write_jsonl(tmp_path / "s.jsonl", [signal(1), line, signal(3)])
    report = ingest_file(path, store=store, clock=clock)
    assert (report.accepted, report.dead_lettered) == (2, 1)
    (letter,) = dead(store)
    assert letter["source_file"] == str(path.resolve())
    assert letter["line"] == 2
    assert letter["field"] == field
    assert reason in letter["reason"]
    assert letter["raw"] == line
    assert report.problems[0].line == 2


def test_invalid_utf8_in_a_jsonl_line_is_dead_lettered_alone(store, clock, tmp_path):
    path = tmp_path / "s.jsonl"
    good = json.dumps(signal(1)).encode()
    bad = (
        json.dumps(signal(2, text="caf\u00e9"), ensure_ascii=False)
        .encode()
        .replace("\u00e9".encode(), b"\xe9")
    )
    assert b"\xe9" in bad
    path.write_bytes(good + b"\n" + bad + b"\n" + json.dumps(signal(3)).encode() + b"\n")
    report = ingest_file(path, store=store, clock=clock)
    assert (report.accepted, report.dead_lettered) == (2, 1)
    assert "invalid UTF-8" in dead(store)[0]["reason"] and dead(store)[0]["line"] == 2


def test_invalid_utf8_in_a_csv_row_is_dead_lettered_alone(store, clock, tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(
        b"source,external_id,kind,occurred_at,account_domain,text\n"
        b"web,1,web_visit,2026-11-02T09:00:00Z,acme.com,ok\n"
        b"web,2,web_visit,2026-11-02T09:00:00Z,acme.com,caf\xe9\n"
        b"web,3,web_visit,2026-11-02T09:00:00Z,acme.com,ok\n"
    )
    report = ingest_file(path, store=store, clock=clock)
    assert (report.accepted, report.dead_lettered) == (2, 1)
    assert dead(store)[0]["line"] == 3 and "invalid UTF-8" in dead(store)[0]["reason"]


def test_csv_line_numbers_count_multiline_cells(store, clock, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(
        "source,external_id,kind,occurred_at,account_domain,text\n"
        'web,1,note,2026-11-02T09:00:00Z,acme.com,"two\nlines"\n'
        "web,2,nope,2026-11-02T09:00:00Z,acme.com,x\n",
        encoding="utf-8",
    )
    ingest_file(path, store=store, clock=clock)
    assert dead(store)[0]["line"] == 4


def test_a_key_repeated_in_one_file_with_the_same_content_is_a_duplicate(store, clock, tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [signal(1), signal(2), signal(1)])
    report = ingest_file(path, store=store, clock=clock)
    assert (report.accepted, report.duplicates, report.dead_lettered) == (2, 1, 0)
    assert report.duplicate_lines[0][0] == 3


def test_a_key_repeated_in_one_file_with_other_content_is_dead_lettered(store, clock, tmp_path):
    path = write_jsonl(
        tmp_path / "s.jsonl", [signal(1), signal(2), signal(1, payload={"url": "/other"})]
    )
    report = ingest_file(path, store=store, clock=clock, batch_size=2)
    assert (report.accepted, report.dead_lettered) == (2, 1)
    (letter,) = dead(store)
    assert (letter["line"], letter["field"]) == (3, "external_id")
    assert (
        "already stored as signal" in letter["reason"] and "different content" in letter["reason"]
    )
    assert [r["payload"] for r in rows(store, Signal) if r["external_id"] == "e-1"] == [
        {"url": "/pricing"}
    ]


def test_repeats_inside_one_batch_are_judged_like_repeats_across_runs(store, clock, tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [signal(1), signal(1), signal(1, text="changed")])
    report = ingest_file(path, store=store, clock=clock, batch_size=100)
    assert (report.accepted, report.duplicates, report.dead_lettered) == (1, 1, 1)


def test_re_ingesting_a_file_with_bad_rows_does_not_pile_up_dead_letters(store, clock, tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [signal(1), "not json"])
    ingest_file(path, store=store, clock=clock)
    ingest_file(path, store=store, clock=clock)
    assert len(dead(store)) == 1


# -- crash safety ------------------------------------------------------------------------------


def test_a_run_that_fails_half_way_and_is_rerun_ends_like_one_clean_run(
    store, clock, tmp_path, monkeypatch, sqlite_template
):
    records = [signal(n, account_domain=f"co{n % 7}.com") for n in range(1, 41)]
    records[12] = "broken"
    path = write_jsonl(tmp_path / "s.jsonl", records)

    from revfield.ingest import _ingest

    real = _ingest._Ingestor._write
    calls = {"n": 0}

    def flaky(self, session, candidates, invalid):
        calls["n"] += 1
        result = real(self, session, candidates, invalid)
        if calls["n"] == 3:
            raise RuntimeError("killed")  # after writing, before commit: the batch rolls back
        return result

    monkeypatch.setattr(_ingest._Ingestor, "_write", flaky)
    with pytest.raises(RuntimeError):
        ingest_file(path, store=store, clock=clock, batch_size=10)
    assert len(rows(store, Signal)) == 19  # two batches committed: 20 rows minus the broken one
    monkeypatch.setattr(_ingest._Ingestor, "_write", real)
    ingest_file(path, store=store, clock=clock, batch_size=10)

    clean = Store.from_url(f"sqlite:///{tmp_path / 'clean.db'}")
    clean.migrate()
    ingest_file(path, store=clean, clock=clock, batch_size=10)
    assert snapshot(store) == snapshot(clean)
    clean.dispose()
