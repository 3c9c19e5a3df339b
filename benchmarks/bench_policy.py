"""Policy decision latency: a 50-rule pack plus guardrails, context already assembled.

Floor: the same 50 rules written as plain Python functions, evaluated on the same contexts in
the same run. For information, the reference CEL interpreter (the Rust-core binding, one
``cel.Context`` per decision) on the same rules, when it is installed.
"""

from __future__ import annotations

import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._report import Figure
from revfield.policies import decide, load_pack, merge_context

PACK = Path(__file__).resolve().parents[1] / "policies"
KINDS = ["send_email", "create_task", "offer_discount", "save_play", "advance_stage", "notify"]
SEGMENTS = ["smb", "mid_market", "enterprise"]
STATES = ["prospect", "customer", "churned"]
DECISIONS = ["auto", "review", "escalate", "block"]
Rule = tuple[str, Callable[[dict[str, Any]], bool]]
CEO = re.compile(r"(?i)\b(ceo|cfo|cto)\b")


def rules() -> list[Rule]:
    """50 rules of the shapes RevOps writes, each as CEL and as a plain Python function."""
    out: list[Rule] = []
    for i in range(50):
        k, k2 = KINDS[i % 6], KINDS[(i + 1) % 6]
        s, st, conf, n = SEGMENTS[i % 3], STATES[i % 3], round(0.5 + (i % 5) * 0.1, 2), 1 + i % 4
        amount, pct = 10000.0 * (1 + i % 7), float(5 + i % 30)
        shape = i % 8
        if shape == 0:
            out.append(
                (
                    f'action.kind == "{k}" && model.confidence >= {conf}',
                    lambda c, k=k, conf=conf: (
                        c["action"]["kind"] == k and c["model"]["confidence"] >= conf
                    ),
                )
            )
        elif shape == 1:
            out.append(
                (
                    f'action.kind == "{k}" && account.segment == "{s}" '
                    '&& action.motion == "acquisition"',
                    lambda c, k=k, s=s: (
                        c["action"]["kind"] == k
                        and c["account"]["segment"] == s
                        and c["action"]["motion"] == "acquisition"
                    ),
                )
            )
        elif shape == 2:
            out.append(
                (
                    f"deal.exists && deal.amount >= {amount}",
                    lambda c, a=amount: c["deal"]["exists"] and c["deal"]["amount"] >= a,
                )
            )
        elif shape == 3:
            out.append(
                (
                    f'action.kind in ["{k}", "{k2}"] && counters.contact_touches >= {n}',
                    lambda c, ks=frozenset((k, k2)), n=n: (
                        c["action"]["kind"] in ks and c["counters"]["contact_touches"] >= n
                    ),
                )
            )
        elif shape == 4:
            out.append(
                (
                    f'contact.do_not_contact && action.kind == "{k}"',
                    lambda c, k=k: c["contact"]["do_not_contact"] and c["action"]["kind"] == k,
                )
            )
        elif shape == 5:
            out.append(
                (
                    f'account.customer_state == "{st}" && action.motion == "retention_expansion" '
                    f"&& model.confidence < {conf}",
                    lambda c, st=st, conf=conf: (
                        c["account"]["customer_state"] == st
                        and c["action"]["motion"] == "retention_expansion"
                        and c["model"]["confidence"] < conf
                    ),
                )
            )
        elif shape == 6:
            out.append(
                (
                    f'action.kind == "offer_discount" && action.discount_pct > {pct}',
                    lambda c, p=pct: (
                        c["action"]["kind"] == "offer_discount" and c["action"]["discount_pct"] > p
                    ),
                )
            )
        else:
            out.append(
                (
                    f'contact.role.matches("(?i)\\\\b(ceo|cfo|cto)\\\\b") && action.kind == "{k}"',
                    lambda c, k=k: (
                        CEO.search(c["contact"]["role"]) is not None and c["action"]["kind"] == k
                    ),
                )
            )
    return out


def contexts() -> list[dict[str, Any]]:
    out = []
    for i in range(24):
        out.append(
            merge_context(
                {
                    "action": {
                        "kind": KINDS[i % 6],
                        "motion": "acquisition" if i % 2 else "retention_expansion",
                        "discount_pct": float(i * 2),
                    },
                    "account": {
                        "segment": SEGMENTS[i % 3],
                        "customer_state": STATES[i % 3],
                        "icp_fit": True,
                    },
                    "contact": {
                        "email": "p@x.com",
                        "role": ["CEO", "Office manager", "VP Sales"][i % 3],
                        "do_not_contact": i % 11 == 0,
                    },
                    "deal": {"exists": i % 2 == 0, "amount": 5000.0 * i, "stage": "engaging"},
                    "model": {"confidence": (i % 10) / 10},
                    "counters": {
                        "contact_touches": i % 5,
                        "account_touches": i % 9,
                        "motion_auto_today": i * 10,
                    },
                }
            )
        )
    return out


def _median_us(fn: Callable[[], Any], calls: int, rounds: int = 9) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples) * 1e6


def bench_policy() -> list[Figure]:
    pack_rules = rules()
    ctxs = contexts()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pack"
        folder.mkdir()
        shutil.copy(PACK / "guardrails.yaml", folder / "guardrails.yaml")
        lines = ["default: review", "rules:"]
        for i, (source, _) in enumerate(pack_rules):
            lines += [
                f"  - id: rule-{i:02d}",
                f"    when: '{source}'",
                f"    decision: {DECISIONS[i % 4]}",
                f"    reason: benchmark rule {i}",
            ]
        (folder / "rules.yaml").write_text("\n".join(lines) + "\n")
        pack = load_pack(folder)
    assert len(pack.rules) == 50
    # the compiled pack and the plain functions agree on every context
    for c in ctxs:
        matched = set(decide(pack, c).matched)
        assert matched == {f"rule-{i:02d}" for i, (_, fn) in enumerate(pack_rules) if fn(c)}

    state = {"i": 0}

    def ours() -> None:
        state["i"] = (state["i"] + 1) % len(ctxs)
        decide(pack, ctxs[state["i"]])

    fns = [fn for _, fn in pack_rules]

    def floor() -> None:
        state["i"] = (state["i"] + 1) % len(ctxs)
        c = ctxs[state["i"]]
        for fn in fns:
            fn(c)

    ours_us = _median_us(ours, 2000)
    floor_us = _median_us(floor, 2000)
    figures = [
        Figure(
            "policy decision, 50 rules + guardrails (median)",
            ours_us,
            "µs",
            "≤ 50 µs",
            ours_us <= 50,
            "the same 50 rules as plain Python functions",
            floor_us,
            floor_us / ours_us,
            "full decide(): 50 compiled rules, contact fatigue, account cap, motion budget, "
            "2 counter-metrics, "
            "retention-first, the Decision record; over 24 contexts",
        ),
    ]
    reference = _reference_us(pack_rules, ctxs)
    if reference is not None:
        figures.append(
            Figure(
                "  for comparison: reference CEL interpreter, 50 rules",
                reference,
                "µs",
                "—",
                True,
                note="Rust-core binding, one cel.Context per decision, programs compiled once",
            )
        )
    return figures


def _reference_us(pack_rules: list[Rule], ctxs: list[dict[str, Any]]) -> float | None:
    try:
        import cel  # type: ignore[import-not-found]
    except ImportError:
        return None
    programs = [cel.compile(source) for source, _ in pack_rules]
    state = {"i": 0}

    def run() -> None:
        state["i"] = (state["i"] + 1) % len(ctxs)
        context = cel.Context(ctxs[state["i"]])
        for p in programs:
            p.execute(context)

    return _median_us(run, 200, rounds=5)
