"""Guardrail counters come from memory: touches across both motions and all senders,
automated actions per motion per day, open risks and answered save plays."""

from __future__ import annotations

from datetime import timedelta

from revfield.domain import ActionKind, ActionStatus, FactType, Motion, ProposedAction
from revfield.ingest import ingest_signals
from revfield.memory import add_fact, record_action
from revfield.policies import Verdict, build_context, decide, load_pack, record_decision
from revfield.review import LOCAL_ADMIN, answer_review, inbox, open_review_item
from tests.factories import T0, make_account, make_deal, make_signal
from tests.policies.conftest import DEFAULT_PACK

PACK = load_pack(DEFAULT_PACK)


def email(**kw) -> ProposedAction:
    base = {
        "kind": ActionKind.SEND_EMAIL,
        "motion": Motion.ACQUISITION,
        "account_id": "acme.com",
        "contact_id": 1,
        "confidence": 0.95,
    }
    return ProposedAction(**{**base, **kw})


def setup_account(store, clock, *, segment="smb", state="prospect"):
    ingest_signals(
        [
            {
                "source": "crm",
                "external_id": "c1",
                "kind": "note",
                "occurred_at": (T0 - timedelta(days=30)).isoformat(),
                "contact_email": "pat@acme.com",
            }
        ],
        store=store,
        clock=clock,
    )
    with store.session() as s:
        from revfield.memory.models import Account

        acc = s.get(Account, "acme.com")
        acc.segment, acc.employees, acc.industry, acc.customer_state = (
            segment,
            50,
            "software",
            state,
        )


STATUS = {Verdict.AUTO: ActionStatus.QUEUED, Verdict.BLOCK: ActionStatus.BLOCKED}


def decide_now(store, clock, action, *, pack=PACK):
    """Decide on ``action`` and record it as an agent run does: the action in the status its
    verdict gives (queued when automated), the decision, and a review item when it waits."""
    with store.session() as s:
        decision = decide(pack, build_context(s, pack, action, clock.now()))
        stored = record_action(
            s,
            action,
            field_event_id=None,
            agent="test",
            thread_id="test",
            status=STATUS.get(decision.verdict, ActionStatus.PENDING_REVIEW),
            after_action_id=None,
            now=clock.now(),
        )
        decision_id = record_decision(s, decision, decided_at=clock.now(), action_id=stored.id)
        if stored.status is ActionStatus.PENDING_REVIEW:
            open_review_item(
                s,
                pack,
                stored.id,
                stored.account_id,
                stored.digest,
                decision_id,
                decision,
                clock.now(),
            )
    return decision


def test_contact_fatigue_counts_touches_from_both_motions_and_other_senders(store, clock):
    setup_account(store, clock, state="customer")
    # one email a seller sent from their own mailbox, recorded as a signal
    ingest_signals(
        [
            {
                "source": "gmail",
                "external_id": "m1",
                "kind": "email_sent",
                "occurred_at": (T0 - timedelta(days=2)).isoformat(),
                "contact_email": "pat@acme.com",
            }
        ],
        store=store,
        clock=clock,
    )
    assert decide_now(store, clock, email()).verdict is Verdict.AUTO  # touch 2
    assert (
        decide_now(store, clock, email(motion=Motion.RETENTION_EXPANSION)).verdict is Verdict.AUTO
    )  # touch 3
    fourth = decide_now(store, clock, email())
    assert fourth.verdict is Verdict.REVIEW
    assert [g.id for g in fourth.guardrails if g.tightened] == ["contact-fatigue"]
    assert "touched 3 times in 7 days" in fourth.explanation


def test_touches_older_than_the_window_do_not_count(store, clock):
    setup_account(store, clock)
    for n in range(3):
        ingest_signals(
            [
                {
                    "source": "gmail",
                    "external_id": f"old{n}",
                    "kind": "email_sent",
                    "occurred_at": (T0 - timedelta(days=8 + n)).isoformat(),
                    "contact_email": "pat@acme.com",
                }
            ],
            store=store,
            clock=clock,
        )
    with store.read() as s:
        assert build_context(s, PACK, email(), clock.now())["counters"]["contact_touches"] == 0


def test_the_motion_budget_counts_automated_actions_of_that_motion_today(store, clock, write_pack):
    pack = load_pack(
        write_pack(
            p="""
        rules: [{id: tasks, when: 'action.kind == "create_task"', decision: auto, reason: r}]
        guardrails: {motion_budgets: {acquisition: {max_auto_per_day: 2}}}
    """
        )
    )
    make_account(store, "acme.com")
    task = ProposedAction(
        kind=ActionKind.CREATE_TASK, motion=Motion.ACQUISITION, account_id="acme.com"
    )
    verdicts = [decide_now(store, clock, task, pack=pack).verdict for _ in range(3)]
    assert verdicts == [Verdict.AUTO, Verdict.AUTO, Verdict.REVIEW]
    other = task.model_copy(update={"motion": Motion.RETENTION_EXPANSION})
    with store.read() as s:
        assert decide(pack, build_context(s, pack, other, clock.now())).verdict is Verdict.AUTO
    clock.advance(timedelta(days=1))
    with store.read() as s:
        assert decide(pack, build_context(s, pack, task, clock.now())).verdict is Verdict.AUTO


def test_an_open_risk_turns_acquisition_into_review(store, clock):
    setup_account(store, clock)
    sig = make_signal(store, "acme.com", 50, kind="support_ticket")
    with store.session() as s:
        add_fact(
            s,
            account_id="acme.com",
            type=FactType.RISK,
            subject="exports failing",
            value="exports fail",
            source_signal_id=sig,
            confidence=0.8,
            observed_at=T0,
            now=T0,
        )
    d = decide_now(store, clock, email())
    assert d.verdict is Verdict.REVIEW and "acquisition-on-open-risk" in [
        g.id for g in d.guardrails
    ]


def test_retention_first_blocks_expansion_until_a_save_play_is_answered(store, clock):
    make_account(store, "acme.com", customer_state="customer", mrr=1000.0)
    sig = make_signal(store, "acme.com", 51, kind="cancellation")
    with store.session() as s:
        add_fact(
            s,
            account_id="acme.com",
            type=FactType.RISK,
            subject="churn",
            value="asked about cancelling",
            source_signal_id=sig,
            confidence=0.9,
            observed_at=T0,
            now=T0,
        )
    expand = ProposedAction(
        kind=ActionKind.CREATE_EXPANSION_OPPORTUNITY,
        motion=Motion.RETENTION_EXPANSION,
        account_id="acme.com",
        amount=5000,
    )
    assert decide_now(store, clock, expand).verdict is Verdict.BLOCK
    clock.advance(timedelta(hours=1))
    save = ProposedAction(
        kind=ActionKind.SAVE_PLAY, motion=Motion.RETENTION_EXPANSION, account_id="acme.com"
    )
    assert decide_now(store, clock, save).verdict is Verdict.REVIEW  # the save play waits
    assert decide_now(store, clock, expand).verdict is Verdict.BLOCK  # so does expansion
    with store.session() as s:  # a person approves the save play
        (item,) = inbox(s)
        answer_review(s, PACK, item.review_id, approve=True, actor=LOCAL_ADMIN, now=clock.now())
    clock.advance(timedelta(hours=1))
    assert decide_now(store, clock, expand).verdict is Verdict.REVIEW


def test_the_context_carries_deal_and_account_facts(store, clock):
    setup_account(store, clock, segment="mid_market")
    make_deal(
        store,
        "acme.com",
        "d1",
        stage="evaluation",
        amount=30000.0,
        created_at=T0 - timedelta(days=40),
    )
    sig = make_signal(store, "acme.com", 60, kind="call_transcript")
    with store.session() as s:
        for t, subject in (
            (FactType.CHAMPION, "champion"),
            (FactType.STAKEHOLDER, "cfo"),
            (FactType.PAIN, None),
        ):
            add_fact(
                s,
                account_id="acme.com",
                type=t,
                subject=subject,
                value="x",
                source_signal_id=sig,
                confidence=0.8,
                observed_at=T0,
                now=T0,
            )
    with store.read() as s:
        c = build_context(s, PACK, email(deal_id="d1"), clock.now())
    assert c["deal"] | {"age_days": 40} == c["deal"]
    assert (c["deal"]["stage"], c["deal"]["amount"], c["deal"]["stakeholders"]) == (
        "evaluation",
        30000.0,
        2,
    )
    assert c["account"]["facts"]["pain"] == 1 and c["account"]["icp_fit"] is True
    assert c["contact"]["email"] == "pat@acme.com"


def test_emails_a_person_approved_count_as_touches(store, clock):
    """Two emails that waited for a person and were approved are touches like automated ones:
    after them, a third goes out by itself and the fourth waits for a person (cap 3 a week)."""
    setup_account(store, clock)
    for _ in range(2):  # a draft with an uncited claim waits for the owner
        assert decide_now(store, clock, email(uncited_claims=1)).verdict is Verdict.REVIEW
    with store.session() as s:
        for item in inbox(s):
            answer_review(s, PACK, item.review_id, approve=True, actor=LOCAL_ADMIN, now=clock.now())
    assert decide_now(store, clock, email()).verdict is Verdict.AUTO  # touch 3
    fourth = decide_now(store, clock, email())
    assert fourth.verdict is Verdict.REVIEW
    assert [g.id for g in fourth.guardrails if g.tightened] == ["contact-fatigue"]


def test_a_rejected_or_waiting_email_is_no_touch(store, clock):
    setup_account(store, clock)
    for _ in range(3):
        assert decide_now(store, clock, email(uncited_claims=1)).verdict is Verdict.REVIEW
    with store.session() as s:
        first, *_ = inbox(s)
        answer_review(s, PACK, first.review_id, approve=False, actor=LOCAL_ADMIN, now=clock.now())
    with store.read() as s:  # one rejected, two still waiting: nothing went out
        assert build_context(s, PACK, email(), clock.now())["counters"]["contact_touches"] == 0


def _sent(store, clock, external_id: str, days_ago: int, email: str) -> None:
    ingest_signals(
        [
            {
                "source": "gmail",
                "external_id": external_id,
                "kind": "email_sent",
                "occurred_at": (T0 - timedelta(days=days_ago)).isoformat(),
                "contact_email": email,
            }
        ],
        store=store,
        clock=clock,
    )


def test_an_account_cap_with_its_own_window_counts_every_contact_in_that_window(
    store, clock, write_pack
):
    """Contact fatigue over 7 days and an account cap over 30: each counts in its own window,
    the account's count takes in its other contacts, and the last contact is the newest."""
    pack = load_pack(
        write_pack(
            p="""
        rules: [{id: emails, when: 'action.kind == "send_email"', decision: auto, reason: r}]
        guardrails:
          contact_fatigue: {max_touches: 5, window_days: 7, signal_kinds: [email_sent]}
          account_cap: {max_touches: 4, window_days: 30, signal_kinds: [email_sent]}
    """
        )
    )
    setup_account(store, clock)
    _sent(store, clock, "m1", 2, "pat@acme.com")  # in both windows
    _sent(store, clock, "m2", 20, "pat@acme.com")  # only in the account's
    _sent(store, clock, "m3", 3, "lee@acme.com")  # another contact: the account's
    _sent(store, clock, "m4", 40, "lee@acme.com")  # in neither
    with store.read() as s:
        counters = build_context(s, pack, email(), clock.now())["counters"]
    assert (counters["contact_touches"], counters["account_touches"]) == (1, 3)
    assert counters["days_since_contact"] == 2
    assert decide_now(store, clock, email(), pack=pack).verdict is Verdict.AUTO  # the 4th
    refused = decide_now(store, clock, email(), pack=pack)  # the 5th: the queued one counts
    assert refused.verdict is Verdict.REVIEW
    assert [g.id for g in refused.guardrails if g.tightened] == ["account-cap"]
