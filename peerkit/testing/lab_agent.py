"""A peer a test drives from outside its network namespace: ``python -m peerkit.testing.lab_agent``.

A test process cannot reach peers inside the namespaces of a :class:`~peerkit.testing.netlab.NetLab`
(on purpose: nothing there has a route out). An agent runs a Node inside one and takes
commands as JSON lines on stdin, answering each with one JSON line on stdout::

    {"op": "start", "config": {...peer.yaml keys...}, "import": ["sample_app.services"]}
    {"op": "connect", "target": "/ip4/.../p2p/..." | [addrs] | "peer id"}
    {"op": "request", "peer": "...", "type": "sample.Greet", "body": {"name": "x"}}
    {"op": "peers"} (peer -> "direct" | "relayed")  {"op": "addrs"}  {"op": "stats"} (transport)
    {"op": "stop"}
    {"op": "dcs_identity", "seed": hex}  dcs_card, dcs_create, dcs_invite {doc, card},
    dcs_edit {doc, patches}, dcs_text {doc}, dcs_wait {doc, parts}
    {"op": "name_publish", "seed": hex, "value": "..."} (-> name)  name_resolve {name}

Answers are ``{"ok": ..., "ms": elapsed}`` or ``{"error": message, "type": error class}``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import time
from typing import Any

import msgspec

from ..config import PeerConfig
from ..errors import PeerkitError
from ..messages import default_registry


class Agent:
    def __init__(self) -> None:
        self.node: Any = None

    async def handle(self, cmd: dict[str, Any]) -> Any:
        op = cmd["op"]
        if op == "start":
            from ..node import Node, import_actor

            for module in cmd.get("import", []):
                importlib.import_module(module)
            config = msgspec.convert(cmd["config"], PeerConfig)
            self.node = Node(config)  # an identity of its own each run (no identity file)
            for spec in config.services:
                self.node.spawn(import_actor(spec, source=None))
            await self.node.start()
            return {"peer_id": self.node.peer_id, "addrs": self.node.addrs()}
        node = self.node
        if node is None:
            raise RuntimeError("start the node first")
        if op == "connect":
            return await node.connect(cmd["target"], timeout=cmd.get("timeout", 10.0))
        if op == "request":
            msg_type = default_registry.get(cmd["type"])
            if msg_type is None:
                raise RuntimeError(f"no message type {cmd['type']!r} (import its module)")
            msg = msgspec.convert(cmd.get("body", {}), msg_type)
            reply = await node.request(cmd["peer"], msg, timeout=cmd.get("timeout", 10.0))
            return msgspec.to_builtins(reply)
        if op == "peers":
            return {p: node.connection_kind(p) for p in node.peers()}
        if op == "addrs":
            return node.addrs()
        if op == "stats":
            return node.transport.stats()
        if op.startswith("dcs_") or op.startswith("name_"):
            return await self._collaborate(node, op, cmd)
        if op == "stop":
            await node.stop()
            self.node = None
            return True
        raise RuntimeError(f"unknown op {op!r}")

    async def _collaborate(self, node: Any, op: str, cmd: dict[str, Any]) -> Any:
        """Shared documents and names (the node's own clients, as an app uses them)."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from ..dcs.crypto import Identity
        from ..names import name_for

        if op == "dcs_identity":
            return await node.dcs.use_identity(Identity.from_seed(bytes.fromhex(cmd["seed"])))
        if op == "dcs_card":
            return node.dcs.card()
        if op == "dcs_create":
            return await node.dcs.create()
        if op == "dcs_invite":
            await node.dcs.invite(cmd["doc"], cmd["card"], invite_wait=cmd.get("wait", 10.0))
            return True
        if op == "dcs_edit":
            await node.dcs.edit(cmd["doc"], [tuple(p) for p in cmd["patches"]])
            return node.dcs.text(cmd["doc"])
        if op == "dcs_text":
            return node.dcs.text(cmd["doc"])
        if op == "dcs_wait":  # until the text contains every one of ``parts``
            parts = cmd["parts"]
            return await node.dcs.wait_for(
                cmd["doc"], lambda t: all(p in t for p in parts), timeout=cmd.get("timeout", 30)
            )
        if op == "name_publish":
            key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(cmd["seed"]))
            await node.naming.publish(key, cmd["value"])
            return name_for(key)
        if op == "name_resolve":
            record = await node.naming.resolve(cmd["name"])
            return None if record is None else record.value.decode()
        raise RuntimeError(f"unknown op {op!r}")


async def main() -> None:
    # stdout carries the answers only: everything else (the node's logs) goes to stderr
    answers, sys.stdout = sys.stdout, sys.stderr
    agent = Agent()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        cmd = json.loads(line)
        began = time.perf_counter()
        try:
            answer: dict[str, Any] = {"ok": await agent.handle(cmd)}
        except (PeerkitError, RuntimeError, msgspec.ValidationError) as exc:
            answer = {"error": str(exc), "type": type(exc).__name__}
        answer["ms"] = (time.perf_counter() - began) * 1000
        print(json.dumps(answer), file=answers, flush=True)
        if cmd.get("op") == "stop":
            break
    if agent.node is not None:
        await agent.node.stop()


if __name__ == "__main__":
    asyncio.run(main())
