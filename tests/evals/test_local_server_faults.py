"""Random faults from the local OpenAI-compatible server, met by revfield's real OpenAI adapter
over real HTTP on 127.0.0.1: each kind ends as one typed ``ModelError``, never a crash; with
the SDK's retries most calls still get the offline model's answer."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from revfield.config import Settings
from revfield.evals._local_server import FAULT_KINDS, LocalOpenAIServer, main
from revfield.llm import ModelError, OfflineModel, make_model
from revfield.llm._openai import OpenAIModel

REPLY = "Thanks, but the price is too high for us this quarter."
EXPECTED = OfflineModel().classify_reply(REPLY)


def adapter(server: LocalOpenAIServer, *, retries: int, timeout: float = 0.1) -> OpenAIModel:
    """The adapter as `revfield run` builds it from its settings."""
    settings = Settings(
        llm="openai",
        openai_api_key="sk-local-test",
        openai_base_url=server.base_url,
        model="local-model",
        model_timeout=timeout,
        model_max_retries=retries,
    )
    model = make_model(settings)
    assert isinstance(model, OpenAIModel)
    return model


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the SDK asks for between retries, recorded instead of slept."""
    asked: list[float] = []
    monkeypatch.setattr("openai._base_client.time.sleep", asked.append)
    return asked


@pytest.mark.parametrize(
    ("kind", "fault"),
    [
        ("429", "rate_limit"),
        ("500", "server"),
        ("503", "server"),
        ("timeout", "timeout"),
        ("malformed", "invalid_output"),
    ],
)
def test_each_injected_fault_is_one_typed_model_error(kind, fault):
    with LocalOpenAIServer(fault_rate=1.0, fault_kinds=[kind], seed=1, timeout_delay=0.5) as server:
        model = adapter(server, retries=0)
        with pytest.raises(ModelError) as caught:
            model.classify_reply(REPLY)
        model.close()
        assert (server.served, server.injected) == (1, Counter({kind: 1}))
    assert caught.value.fault == fault
    assert caught.value.reason  # words a person can act on, not an empty message


def test_a_timeout_fault_outlasts_the_client_then_close_lets_it_go_at_once():
    with LocalOpenAIServer(fault_rate=1.0, fault_kinds=["timeout"], timeout_delay=30) as server:
        model = adapter(server, retries=0)
        started = time.perf_counter()
        with pytest.raises(ModelError) as caught:
            model.classify_reply(REPLY)
        waited = time.perf_counter() - started
        model.close()
        started = time.perf_counter()
        server.close()
        closing = time.perf_counter() - started
    assert caught.value.fault == "timeout"
    assert waited < 5  # the client's 0.1 s timeout, not the server's 30 s hold
    assert closing < 0.9  # released at once, not after the 1 s grace close() allows


def test_injected_status_faults_ask_for_a_millisecond_retry_the_sdk_honours(waits):
    with LocalOpenAIServer(fault_rate=1.0, fault_kinds=["429", "503"], seed=3) as server:
        model = adapter(server, retries=2)
        with pytest.raises(ModelError) as caught:
            model.classify_reply(REPLY)
        model.close()
        assert server.served == 3 and sum(server.injected.values()) == 3
    assert caught.value.fault in ("rate_limit", "server")
    assert waits == [0.001, 0.001]  # retry-after-ms: 1, not the SDK's 0.5-8 s backoff


def test_with_retries_most_calls_succeed_at_a_30_percent_fault_rate(waits):
    with LocalOpenAIServer(fault_rate=0.3, seed=16, timeout_delay=0.5) as server:
        model = adapter(server, retries=2)
        outcomes: list[str] = []
        for _ in range(60):
            try:
                answer = model.classify_reply(REPLY)
            except ModelError as exc:
                outcomes.append(exc.fault)
            else:
                assert answer == EXPECTED
                outcomes.append("ok")
        model.close()
        injected, served = server.injected, server.served
    counts = Counter(outcomes)
    assert counts["ok"] >= 48, counts  # most calls get through
    assert set(counts) <= {"ok", "rate_limit", "server", "timeout", "invalid_output"}
    # a malformed answer is not retried (the SDK can't tell it from a good one): each ends a
    # call; a status or timeout fails a call only when all three attempts meet one
    assert counts["invalid_output"] == injected["malformed"] > 0
    assert set(injected) == set(FAULT_KINDS)
    assert served == 60 + len(waits)  # every retry was one more request, after one wait
    assert 0.15 < sum(injected.values()) / served < 0.45


def test_the_same_seed_meets_the_same_faults_in_the_same_order(waits):
    def outcomes(seed: int) -> list[str]:
        kinds = ["429", "500", "malformed"]
        with LocalOpenAIServer(fault_rate=0.5, fault_kinds=kinds, seed=seed) as server:
            model = adapter(server, retries=0)
            seen: list[str] = []
            for _ in range(20):
                try:
                    model.classify_reply(REPLY)
                    seen.append("ok")
                except ModelError as exc:
                    seen.append(exc.fault)
            model.close()
        return seen

    first = outcomes(7)
    assert first == outcomes(7)
    assert first != outcomes(8)
    assert "ok" in first and set(first) - {"ok"}


def test_no_fault_rate_means_no_random_faults():
    with LocalOpenAIServer(seed=1) as server:
        model = adapter(server, retries=0)
        assert [model.classify_reply(REPLY) for _ in range(5)] == [EXPECTED] * 5
        model.close()
        assert (server.served, sum(server.injected.values())) == (5, 0)
        assert server.summary() == "served 5 requests; injected no faults"


def test_summary_names_each_kind_injected():
    with LocalOpenAIServer(fault_rate=1.0, fault_kinds=["500"], seed=1) as server:
        model = adapter(server, retries=0)
        for _ in range(2):
            with pytest.raises(ModelError):
                model.classify_reply(REPLY)
        model.close()
        assert server.summary() == "served 2 requests; injected 500 ×2"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"fault_rate": 1.5}, "fault_rate must be between 0 and 1, got 1.5"),
        ({"fault_kinds": ["429", "404"]}, "unknown fault kind '404'; the kinds are 429, 500"),
        ({"fault_kinds": []}, "fault_kinds is empty"),
        ({"timeout_delay": -1}, "timeout_delay must be 0 seconds or more"),
    ],
)
def test_a_bad_fault_setting_is_refused_naming_it(kwargs, words):
    with pytest.raises(ValueError, match=words):
        LocalOpenAIServer(**kwargs)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--fault-rate", "2"], "`2`: expected a number from 0 to 1"),
        (["--fault-kinds", "429,boom"], "`429,boom`: unknown fault kind 'boom'"),
        (["--timeout-delay", "soon"], "`soon`: expected seconds"),
    ],
)
def test_the_command_line_refuses_bad_fault_flags(argv, words, capsys):
    with pytest.raises(SystemExit) as ended:
        main(["--port", "0", *argv])
    assert ended.value.code == 2
    assert words in capsys.readouterr().err
