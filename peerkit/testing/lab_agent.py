"""A peer a test drives from outside its network namespace: ``python -m peerkit.testing.lab_agent``.

A test process cannot reach peers inside the namespaces of a :class:`~peerkit.testing.netlab.NetLab`
(on purpose: nothing there has a route out). An agent runs a Node inside one and takes
commands as JSON lines on stdin, answering each with one JSON line on stdout::

    {"op": "start", "config": {...peer.yaml keys...}, "import": ["sample_app.services"]}
    {"op": "connect", "target": "/ip4/.../p2p/..." | [addrs] | "peer id"}
    {"op": "request", "peer": "...", "type": "sample.Greet", "body": {"name": "x"}}
    {"op": "peers"} (peer -> "direct" | "relayed")  {"op": "addrs"}  {"op": "stats"} (transport)
    {"op": "stop"} (every node; the agent ends)  {"op": "stop_node", "node": i}
    {"op": "content_put", "document": {...}} (-> cid, announced)  content_fetch {cid},
    content_providers {cid}, routing_find_peer {peer}, routing_connect {peer}, routing_table
    (several nodes in one agent: "start" again adds one; "node": i picks it in any command)
    {"op": "dcs_identity", "seed": hex}  dcs_card, dcs_create, dcs_invite {doc, card},
    dcs_edit {doc, patches}, dcs_text {doc}, dcs_wait {doc, parts}
    {"op": "name_publish", "seed": hex, "value": "..."} (-> name)  name_resolve {name}
    {"op": "login", "wallet": hex, "passphrase": "..."}  login_publish {label, document},
    sealed_reader, sealed_publish {label, document, readers}, sealed_set_readers {label,
    readers}, sealed_read {name}, sealed_me, sealed_peek {cid, needle} (as the logged-in user)
    keep_with {peer, labels} (the app node keeps the user's names, now)

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
    """Runs one node, or several (``"node": i`` in a command picks one; the first by default:
    peers sharing a process, for formations bigger than memory allows one process each)."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.sessions: dict[str, Any] = {}  # peer id -> its logged-in user (naming.Session)

    @property
    def node(self) -> Any:
        return self.nodes[0] if self.nodes else None

    async def handle(self, cmd: dict[str, Any]) -> Any:
        op = cmd["op"]
        if op == "start":
            from ..node import Node, import_actor

            for module in cmd.get("import", []):
                importlib.import_module(module)
            config = msgspec.convert(cmd["config"], PeerConfig)
            # an identity of its own each run (no identity file), or the one ``seed`` gives
            seed = bytes.fromhex(cmd["seed"]) if cmd.get("seed") else None
            node = Node(config, seed=seed)
            for spec in config.services:
                node.spawn(import_actor(spec, source=None))
            await node.start()
            index = cmd.get("node")
            if index is None or index >= len(self.nodes):
                self.nodes.append(node)
                index = len(self.nodes) - 1
            else:
                self.nodes[index] = node  # a restart in the same place
            return {"peer_id": node.peer_id, "addrs": node.addrs(), "node": index}
        if not self.nodes:
            raise RuntimeError("start the node first")
        node = self.nodes[cmd.get("node", 0)]
        if op == "stop_node":  # this one only; "stop" stops them all and ends the agent
            await node.stop()
            return True
        if op.startswith("routing_") or op.startswith("content_"):
            return await self._route(node, op, cmd)
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
        if op.startswith("sealed_"):
            return await self._sealed(node, op, cmd)
        if op.startswith(("dcs_", "name_", "login", "keep_")):
            return await self._collaborate(node, op, cmd)
        if op == "stop":
            for each in self.nodes:
                await each.stop()
            self.nodes.clear()
            return True
        raise RuntimeError(f"unknown op {op!r}")

    async def _route(self, node: Any, op: str, cmd: dict[str, Any]) -> Any:
        """Content and the DHT (peerkit.routing), as an app uses them."""
        from ..blocks import parse_cid

        if op == "content_put":  # a pinned document, announced in the DHT before answering
            root = await node.storage.put_document(cmd["document"], pin=cmd.get("pin", "doc"))
            took = await node.routing.provide(root.cid_bytes)
            return {"cid": root.encode(), "providers_stored_at": took}
        if op == "content_fetch":  # fetched (and pinned, when ``pin`` is given)
            fetched = await node.storage.fetch(cmd["cid"], pin=cmd.get("pin"), timeout=30)
            doc = await node.storage.get_document(cmd["cid"])
            return {"from": fetched.from_peers, "document": doc}
        if op == "content_providers":
            cid = parse_cid(cmd["cid"]).cid_bytes
            found = await node.routing.find_providers(cid, want=cmd.get("want", 1))
            return [p.id for p in found]
        if op == "routing_find_peer":
            return await node.routing.find_peer(cmd["peer"])
        if op == "routing_connect":  # by peer id alone
            return await node.connect(cmd["peer"], timeout=cmd.get("timeout", 10.0))
        if op == "routing_table":
            return len(node.routing.table)
        if op == "routing_counts":  # lookups, requests, reply_bytes, delegated
            return dict(node.routing.ext.counts)
        if op == "routing_get_record":
            raw = await node.routing.get_record(cmd.get("namespace", "names"), cmd["key"])
            return None if raw is None else len(raw)
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
        if op == "login":  # {wallet: hex seed, passphrase, app} -> the Me DAG
            from ..naming.keys import FAST_TEST_KDF, EthereumWallet

            wallet = EthereumWallet(bytes.fromhex(cmd["wallet"]))
            session = await node.naming.login(
                wallet, cmd["passphrase"], cmd.get("app", "lab"), kdf=FAST_TEST_KDF
            )
            self.sessions[node.peer_id] = session
            return {"me": session.me_name, "names": session.me["names"]}
        if op == "login_publish":  # a named document of the logged-in user, listed in the Me DAG
            session = self.sessions[node.peer_id]
            root = await node.storage.put_document(cmd["document"], pin=cmd["label"])
            record = await node.naming.publish(session.key_for(cmd["label"]), root)
            await session.add_name(record.name)
            return {"name": record.name, "cid": root.encode()}
        if op == "keep_with":  # hand the user's names to an app node (and have it keep them now)
            from ..naming.keeper import KeepNow

            session = self.sessions[node.peer_id]
            await session.keep_with(cmd["peer"], cmd.get("labels", []))
            listing = await node.request(cmd["peer"], KeepNow(), timeout=60)
            return [k.root for k in listing.kept]
        raise RuntimeError(f"unknown op {op!r}")

    async def _sealed(self, node: Any, op: str, cmd: dict[str, Any]) -> Any:
        """Sealed content as the logged-in user (scenario 1's write and read paths)."""
        from ..blocks import Block, links, parse_cid
        from ..storage.sealed import Reader

        session = self.sessions[node.peer_id]
        readers = [Reader(r["id"], bytes.fromhex(r["box"])) for r in cmd.get("readers") or []]
        if op == "sealed_reader":  # what an owner needs to seal content for this user
            return {"id": session.reader.id, "box": session.reader.box.hex()}
        if op == "sealed_publish":  # {label, document, readers} -> {name, cid}
            published = await session.publish_document(
                cmd["label"], cmd["document"], readers=readers if "readers" in cmd else None
            )
            return {"name": published.name, "cid": published.cid.encode()}
        if op == "sealed_set_readers":
            published = await session.set_readers(cmd["label"], readers)
            return {"name": published.name, "cid": published.cid.encode()}
        if op == "sealed_read":
            return await session.read_document(cmd["name"])
        if op == "sealed_me":
            return session.me
        if op == "sealed_peek":  # fetch a DAG as anyone may, and look for ``needle`` in it
            root = parse_cid(cmd["cid"])
            await node.storage.fetch(root, timeout=30)
            needle = cmd["needle"].encode()
            seen, stack, found = 0, [root], False
            while stack:
                cid = stack.pop()
                data = node.storage.read_block(cid)
                seen += 1
                found |= needle in data
                stack.extend(links(Block(cid, data)))
            return {"blocks": seen, "found": found}
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
    # stdin closed (the driver is gone): stop, but never outlive it for long
    try:
        async with asyncio.timeout(15):
            for node in agent.nodes:
                await node.stop()
    except TimeoutError:
        pass


if __name__ == "__main__":
    asyncio.run(main())
