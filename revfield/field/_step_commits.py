"""Few commits per run: a checkpointer wrapper that holds what LangGraph saves for a thread
and writes it in one transaction when it has to be durable.

LangGraph (``durability="sync"``) saves the input as a checkpoint, then, for every step,
each task's writes as the task ends and the step's checkpoint. ``PostgresSaver`` on an
autocommit connection makes each row its own transaction: eight commits for an agent run of
two steps, each a WAL flush, the bulk of a run's cost on PostgreSQL.

:class:`StepCommits` holds them and saves what it holds, in one transaction, when

- a node calls :meth:`StepCommits.flush` before it acts on what the steps before it produced
  (the agent graph's ``decide`` does, so the draft is durable before anything is decided on
  it: a run cut off after drafting resumes from the draft, without calling the model again);
- the invocation returns or raises: whoever invokes the graph calls :meth:`flush` then
  (:class:`~revfield.field.Field` does, without waiting for the disk on PostgreSQL), so a
  pause's interrupts and the last step are saved before anyone else may resume the run;
- the thread is read (``get_tuple``, ``list``), so a read sees every write made here.

On PostgreSQL that transaction is one round trip: its BEGIN, every row and its COMMIT go in
one pipeline (``PostgresSaver`` alone makes each call a round trip of its own).

A step held when the process is cut off is lost, as a step cut off midway is: the run goes
on from the last durable checkpoint, and every step of the agent graph is idempotent
(memory finds what it already did). Nothing else changes: the same rows, in the same order.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)

__all__ = ["StepCommits"]

_Key = tuple[str, str]


def _key(config: RunnableConfig) -> _Key:
    conf = config.get("configurable", {})
    return str(conf.get("thread_id", "")), str(conf.get("checkpoint_ns", ""))


class StepCommits(BaseCheckpointSaver[str]):
    """``inner``, holding what a thread saves until it must be durable, then writing it in one
    transaction (see the module)."""

    def __init__(self, inner: BaseCheckpointSaver[str]) -> None:
        super().__init__(serde=inner.serde)
        self.inner = inner
        self._lock = threading.RLock()
        self._held: dict[_Key, list[tuple[str, tuple[Any, ...]]]] = {}
        self._read: dict[_Key, CheckpointTuple | None] = {}
        """A thread's latest checkpoint as :meth:`read_ahead` read it, for the next read."""

    # -- what LangGraph saves ---------------------------------------------------------------

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        key = _key(config)
        with self._lock:
            self._read.pop(key, None)
            self._held.setdefault(key, []).append(
                ("put", (config, checkpoint, dict(metadata), dict(new_versions)))
            )
        return {
            "configurable": {
                "thread_id": key[0],
                "checkpoint_ns": key[1],
                "checkpoint_id": checkpoint["id"],
            }
        }

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        key = _key(config)
        with self._lock:
            self._read.pop(key, None)
            self._held.setdefault(key, []).append(
                ("writes", (config, list(writes), task_id, task_path))
            )

    def flush(
        self, thread_id: str | None = None, checkpoint_ns: str | None = None, *, wait: bool = True
    ) -> None:
        """Save what is held for a thread (every namespace of it unless ``checkpoint_ns``;
        every thread without ``thread_id``), in one transaction where the saver allows.

        ``wait=False`` (PostgreSQL): commit without waiting for the disk
        (``synchronous_commit = off`` for this transaction). For what only saves time —
        a step after which nothing irreversible happened that memory does not hold — it is
        as durable: a process cut off loses nothing committed; only a database server that
        crashes within a fraction of a second loses it, and then the step runs again from the
        checkpoint before it, idempotently. Any later commit that waits (memory's are all
        synchronous) puts it on disk too, as the log is written in order."""
        with self._lock:
            keys = [
                k
                for k in self._held
                if (thread_id is None or k[0] == thread_id)
                and (checkpoint_ns is None or k[1] == checkpoint_ns)
            ]
            held = [op for k in keys for op in self._held.pop(k)]
            if not held:
                return
            with self._transaction(wait):
                for name, args in held:
                    if name == "put":
                        self.inner.put(*args)
                    else:
                        self.inner.put_writes(*args)

    @contextmanager
    def _transaction(self, wait: bool) -> Iterator[None]:
        """One transaction around what the block saves through ``inner``. ``PostgresSaver`` on
        an autocommit connection: the BEGIN, every row and the COMMIT go in one pipeline, one
        round trip in all (each of its calls would otherwise be a round trip of its own, and
        the BEGIN and the COMMIT two more: a dozen per agent run)."""
        conn = getattr(self.inner, "conn", None)
        transaction = getattr(conn, "transaction", None)
        if not (getattr(conn, "autocommit", False) and callable(transaction)):
            yield  # SQLite's saver commits each call (cheap in WAL mode)
            return
        if not hasattr(self.inner, "pipe") or self.inner.pipe is not None:
            with transaction():  # a saver of another kind, or on a pipeline of its own
                if not wait:
                    conn.execute("SET LOCAL synchronous_commit TO OFF")  # type: ignore[union-attr]
                yield
            return
        try:
            with conn.pipeline():  # type: ignore[union-attr]
                conn.execute("BEGIN")  # type: ignore[union-attr]
                if not wait:
                    conn.execute("SET LOCAL synchronous_commit TO OFF")  # type: ignore[union-attr]
                # the saver's own documented mode: on a connection in pipeline mode, which it
                # syncs after each call; here the sync waits for the end of the block
                self.inner.pipe = _Deferred()
                try:
                    yield
                finally:
                    self.inner.pipe = None
                conn.execute("COMMIT")  # type: ignore[union-attr]
        except BaseException:
            conn.rollback()  # type: ignore[union-attr]  # (nothing when the error ended it)
            raise

    def drop(self, thread_id: str) -> None:
        """Forget what is held for a thread (its invocation failed before saving it)."""
        with self._lock:
            for k in [k for k in self._held if k[0] == thread_id]:
                del self._held[k]

    # -- reads and the rest: the inner saver's, after saving what is held ---------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        key = _key(config)
        with self._lock:
            if key in self._read and not config.get("configurable", {}).get("checkpoint_id"):
                return self._read.pop(key)
        self.flush(*key)
        return self.inner.get_tuple(config)

    @contextmanager
    def read_ahead(
        self, config: RunnableConfig | dict[str, Any]
    ) -> Iterator[CheckpointTuple | None]:
        """The thread's latest checkpoint, read once for the block: the next read of it in the
        block (a graph invoked there reads it first thing) gets the same, without asking the
        database again, unless something was saved for the thread in between. For a caller
        that holds the thread (nobody else writes it meanwhile)."""
        key = _key(cast(RunnableConfig, config))
        found = self.get_tuple(cast(RunnableConfig, config))
        with self._lock:
            self._read[key] = found
        try:
            yield found
        finally:
            with self._lock:
                self._read.pop(key, None)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        if config:
            self.flush(*_key(config))
        else:
            self.flush()
        return self.inner.list(config, filter=filter, before=before, limit=limit)

    def delete_thread(self, thread_id: str) -> None:
        with self._lock:  # not while a flush has the saver's connection in one transaction
            self.drop(thread_id)
            self.inner.delete_thread(thread_id)

    def get_next_version(self, current: str | None, channel: None) -> str:
        return self.inner.get_next_version(current, channel)

    @property
    def config_specs(self) -> builtins.list[Any]:
        return self.inner.config_specs

    def get_delta_channel_history(self, *, config: RunnableConfig, channels: Sequence[str]) -> Any:
        self.flush(*_key(config))
        return self.inner.get_delta_channel_history(config=config, channels=channels)


class _Deferred:
    """A pipeline whose ``sync`` waits for the end of :meth:`StepCommits._transaction`'s block
    (what ``PostgresSaver`` calls after each write when it is given a pipeline)."""

    def sync(self) -> None:
        """Nothing yet: the block's end sends everything, and the COMMIT, at once."""
