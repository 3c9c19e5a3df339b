"""Agents as plug-ins: what an agent declares (its name, what it handles, its proposer), and
finding the installed ones through the ``revfield.agents`` entry-point group.

A package adds an agent without touching revfield::

    [project.entry-points."revfield.agents"]
    renewals = "my_package.agents:RENEWALS"      # an AgentSpec

The built-in agents are registered the same way (see ``pyproject.toml``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points

from revfield.agents._spec import AgentError, AgentSpec
from revfield.route import Router

__all__ = ["GROUP", "build_router", "discover_agents"]

GROUP = "revfield.agents"


def _builtins() -> tuple[AgentSpec, ...]:
    from revfield.agents import (
        _deal_desk,
        _escalation,
        _expansion,
        _handover,
        _outreach,
        _submitted,
    )

    return (
        _escalation.AGENT,
        _submitted.AGENT,
        _handover.AGENT,
        _deal_desk.AGENT,
        _outreach.AGENT,
        _expansion.AGENT,
    )


def _load(extra: Iterable[AgentSpec]) -> dict[str, AgentSpec]:
    found: dict[str, AgentSpec] = {}
    plugins: list[AgentSpec] = []
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            spec = ep.load()
        except Exception as exc:
            raise AgentError(
                f"agent entry point `{ep.name} = {ep.value}` failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(spec, AgentSpec):
            raise AgentError(
                f"agent entry point `{ep.name} = {ep.value}` is a {type(spec).__name__}, "
                "not a revfield.agents.AgentSpec"
            )
        if spec.name != ep.name:
            raise AgentError(
                f"agent entry point `{ep.name}` holds agent `{spec.name}`; the names must match"
            )
        plugins.append(spec)
    builtin = {a.name: a for a in _builtins()}
    for spec in builtin.values():  # built-ins first, in routing order
        found[spec.name] = spec
    for spec in [*plugins, *extra]:
        if spec.name in builtin and spec.propose is builtin[spec.name].propose:
            continue  # the built-in agent's own entry point
        if spec.name in found:
            raise AgentError(f"two agents are called `{spec.name}`; rename one")
        found[spec.name] = spec
    return found


def discover_agents(extra: Iterable[AgentSpec] = ()) -> dict[str, AgentSpec]:
    """The installed agents by name, in routing order: the built-in ones, then those of the
    ``revfield.agents`` entry points (by name), then ``extra``. Raises :class:`AgentError`
    for an entry point that is not an agent or a name used twice."""
    return _load(tuple(extra))


def build_router(
    agents: Mapping[str, AgentSpec], enabled: Callable[[str], bool] = lambda name: True
) -> Router:
    """The routing table of ``agents`` (in their order), leaving out those not ``enabled``
    (the pack turns agents off: ``CompiledPack.agent_enabled``)."""
    return Router({name: spec.handles for name, spec in agents.items() if enabled(name)})
