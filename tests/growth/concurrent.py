"""Replaying a concurrent editing trace (pure): each agent's editor sees exactly what the trace
says it saw.

In a concurrent trace every transaction names its ``parents``: the transactions whose merged
state its agent was typing on. Live peers merge whatever has arrived, which may be more than
that, so positions typed against the parents' state would land in the wrong place. An editor
solves this the way real editor bindings do: it keeps its own replica (here a pycrdt ``Doc``
per agent), which takes exactly the parents' updates before each transaction, applies the
keystrokes there, and hands the resulting update to its peer (``node.dcs.transact``), which
encrypts, signs, stores and sends it like any edit. The other peer merges it whenever it
arrives. The updates an editor takes in come from the trace's earlier transactions as typed;
they are the same bytes the other peer sent.

Concurrent inserts at one position are ordered by Yjs client id; the trace's ``endContent``
corresponds to agent 0's editor having the lower id (checked: the other order gives another
text), so the editors get client ids 1, 2, ...
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pycrdt import Doc, Text, merge_updates


@dataclass
class Run:
    """Consecutive transactions of one agent: one update from that agent's editor."""

    agent: int
    update: bytes
    #: how many runs of each agent the editor had merged when it typed this (what the peer
    #: must hold before taking the update: its origins are in them)
    seen: list[int]


class ConcurrentReplay:
    def __init__(self, trace: dict) -> None:
        self.txns = trace["txns"]
        self.agents = int(trace.get("numAgents", 2))
        self.end: str = trace["endContent"]
        # editors index pycrdt text, which counts UTF-8 bytes: code points only for ASCII
        assert all(p[2].isascii() for t in self.txns for p in t["patches"]), "non-ASCII trace"
        self._order: list[tuple[int, int]] = []  # txn -> (agent, its index among the agent's)
        counts = [0] * self.agents
        for txn in self.txns:
            self._order.append((txn["agent"], counts[txn["agent"]]))
            counts[txn["agent"]] += 1
        self._by_agent = [
            [i for i, t in enumerate(self.txns) if t["agent"] == a] for a in range(self.agents)
        ]
        self._versions = self._version_vectors()

    def _version_vectors(self) -> list[list[int]]:
        """For each transaction, how many of each agent's transactions its parents include.
        (Each agent's own transactions form a chain in these traces: checked.)"""
        versions: list[list[int]] = []
        for i, txn in enumerate(self.txns):
            v = [0] * self.agents
            for p in txn["parents"]:
                v = [max(x, y) for x, y in zip(v, versions[p], strict=True)]
                agent, k = self._order[p]
                v[agent] = max(v[agent], k + 1)
            agent, k = self._order[i]
            assert v[agent] == k, "an agent's transactions do not form a chain"
            versions.append(v)
        return versions

    def runs(self) -> Iterator[Run]:
        """The trace as runs, in trace order (a valid order to type them in)."""
        editors = [Doc(client_id=a + 1) for a in range(self.agents)]
        texts = [e.get("text", type=Text) for e in editors]
        merged = [[0] * self.agents for _ in range(self.agents)]  # editor -> txns merged
        updates: list[bytes] = [b""] * len(self.txns)
        runs_done = [0] * self.agents
        txn_run: list[int] = [0] * len(self.txns)  # txn -> index of its run within its agent
        i = 0
        while i < len(self.txns):
            agent = self.txns[i]["agent"]
            batch: list[bytes] = []
            seen_txns = [0] * self.agents
            while i < len(self.txns) and self.txns[i]["agent"] == agent:
                for other in range(self.agents):
                    while merged[agent][other] < self._versions[i][other]:
                        j = self._by_agent[other][merged[agent][other]]
                        editors[agent].apply_update(updates[j])
                        merged[agent][other] += 1
                    seen_txns[other] = max(seen_txns[other], merged[agent][other])
                before = editors[agent].get_state()
                with editors[agent].transaction():
                    for index, deleted, inserted in self.txns[i]["patches"]:
                        if deleted:
                            del texts[agent][index : index + deleted]
                        if inserted:
                            texts[agent].insert(index, inserted)
                updates[i] = editors[agent].get_update(before)
                merged[agent][agent] += 1
                batch.append(updates[i])
                txn_run[i] = runs_done[agent]
                i += 1
            seen = [
                0 if seen_txns[a] == 0 else txn_run[self._by_agent[a][seen_txns[a] - 1]] + 1
                for a in range(self.agents)
            ]
            seen[agent] = runs_done[agent]
            runs_done[agent] += 1
            yield Run(agent, merge_updates(*batch) if len(batch) > 1 else batch[0], seen)
