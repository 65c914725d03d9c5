"""The formation dashboard: one page with the peers (ids, addresses, connections direct and
relayed, uptime, errors, restarts, links to each gateway's status and metrics), the links
between them, and when it last heard from the runner: a formation that went down says so."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .runner import FormationRunner

RUNNER: web.AppKey[Any] = web.AppKey("runner")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>peerkit formation</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body { font: 14px system-ui, sans-serif; margin: 2em; color: #222; }
 table { border-collapse: collapse; margin-top: 1em; }
 th, td { padding: .3em .7em; border-bottom: 1px solid #ddd; text-align: left; }
 td { vertical-align: top; }
 .ready { color: #080; } .failed, .exited, .down { color: #b00; }
 .starting, .restarting { color: #a60; }
 .id, .addr { font-family: monospace; font-size: 12px; }
 #banner { display: none; padding: .6em 1em; background: #fee; border: 1px solid #b00;
           color: #700; font-weight: 600; margin-top: 1em; }
 body.gone #banner { display: block; } body.gone table, body.gone svg { opacity: .45; }
 svg { border: 1px solid #eee; margin-top: 1em; }
</style></head>
<body>
<h1>formation <span id="name"></span></h1>
<div><span id="count">0</span> peers, <span id="links">0</span> links;
 updated <time id="updated">never</time></div>
<div id="banner" role="alert"></div>
<table><thead><tr><th>peer</th><th>role</th><th>state</th><th>connections</th>
<th>uptime</th><th>errors</th><th>restarts</th><th>messages in / out</th><th>addresses</th>
<th>links</th></tr></thead>
<tbody id="peers"></tbody></table>
<svg id="graph" width="520" height="360" role="img" aria-label="who is connected to whom"></svg>
<script>
const el = (id) => document.getElementById(id);
let lastSeen = null;
function uptime(s) {
  if (s == null) return "-";
  const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), sec = Math.floor(s % 60);
  return h ? `${h}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
}
function cell(tr, content, cls) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content); else td.textContent = content;
  if (cls) td.className = cls;
  tr.appendChild(td);
}
function link(href, text) {
  const a = document.createElement("a"); a.href = href; a.textContent = text; return a;
}
function render(f) {
  el("name").textContent = f.name;
  el("count").textContent = f.peers.length;
  const body = el("peers"); body.replaceChildren();
  for (const p of f.peers) {
    const tr = document.createElement("tr"); tr.className = "peer";
    const who = document.createElement("span");
    who.append(p.name, document.createElement("br"));
    const id = document.createElement("span"); id.className = "id";
    id.textContent = p.peer_id ? "…" + p.peer_id.slice(-8) : "-";  // as the CLI and logs
    id.title = p.peer_id; who.append(id);
    cell(tr, who); cell(tr, p.role); cell(tr, p.state, p.state);
    cell(tr, p.state === "ready" ? `${p.direct} direct, ${p.relayed} relayed` : "-");
    cell(tr, uptime(p.uptime_seconds)); cell(tr, String(p.errors)); cell(tr, String(p.restarts));
    cell(tr, `${p.messages_in} / ${p.messages_out}`);
    const addrs = document.createElement("span"); addrs.className = "addr";
    addrs.textContent = (p.addrs || []).slice(0, 2).join("\\n"); addrs.style.whiteSpace = "pre";
    cell(tr, addrs);
    const links = document.createElement("span");
    if (p.gateway) links.append(link(p.gateway + "/status", "status"), " ",
                                link(p.gateway + "/metrics", "metrics"));
    cell(tr, links);
    body.appendChild(tr);
  }
  const svg = el("graph"); svg.replaceChildren();
  const pos = {}; const n = f.peers.length;
  f.peers.forEach((p, i) => { const a = 2 * Math.PI * i / Math.max(n, 1);
    pos[p.peer_id] = [260 + 140 * Math.cos(a), 180 + 140 * Math.sin(a)]; });
  let links = 0;
  for (const [a, b] of f.links) { if (!pos[a] || !pos[b]) continue; links++;
    const l = document.createElementNS("http://www.w3.org/2000/svg", "line");
    l.setAttribute("x1", pos[a][0]); l.setAttribute("y1", pos[a][1]);
    l.setAttribute("x2", pos[b][0]); l.setAttribute("y2", pos[b][1]);
    l.setAttribute("stroke", "#99b"); svg.appendChild(l); }
  for (const p of f.peers) { const [x, y] = pos[p.peer_id] || [0, 0];
    const c = document.createElementNS("http://www.w3.org/2000/svg", "circle");
    c.setAttribute("cx", x); c.setAttribute("cy", y); c.setAttribute("r", 9);
    c.setAttribute("fill", p.state === "ready" ? "#4a4" : "#c44"); svg.appendChild(c);
    const t = document.createElementNS("http://www.w3.org/2000/svg", "text");
    t.setAttribute("x", x + 12); t.setAttribute("y", y + 4); t.textContent = p.name;
    svg.appendChild(t); }
  el("links").textContent = links;
}
async function refresh() {
  try {
    const response = await fetch("formation.json", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const f = await response.json();
    render(f);
    lastSeen = new Date();
    el("updated").textContent = lastSeen.toLocaleTimeString();
    document.body.classList.remove("gone");
  } catch (error) {
    // the runner is gone (peerkit down, or it crashed): say so instead of freezing
    document.body.classList.add("gone");
    el("banner").textContent = "The formation is down: its runner stopped answering"
      + (lastSeen ? ` at ${lastSeen.toLocaleTimeString()}` : "")
      + ". What you see is the last state it reported.";
    for (const td of document.querySelectorAll("td.ready")) {
      td.className = "down"; td.textContent = "down?";
    }
  }
  setTimeout(refresh, 1000);
}
refresh();
</script></body></html>
"""


def formation_json(runner: FormationRunner) -> dict[str, Any]:
    peers, links = [], set()
    for p in runner.peers:
        s = p.status
        peers.append(
            {
                "name": p.name,
                "role": p.plan.role,
                "state": p.state,
                "peer_id": p.peer_id,
                "connections": _connections(s),
                "direct": s.get("connections", 0) - s.get("relayed", 0),
                "relayed": s.get("relayed", 0),
                "messages_in": s.get("messages_in", 0),
                "messages_out": s.get("messages_out", 0),
                "restarts": p.restarts,
                "uptime_seconds": s.get("uptime_seconds") if p.state == "ready" else None,
                "errors": s.get("errors", 0),
                "addrs": p.addrs,
                "gateway": p.gateway,
            }
        )
        for other in s.get("peers", []):
            links.add(tuple(sorted((p.peer_id, other))))
    return {"name": runner.spec.name, "peers": peers, "links": sorted(links)}


class Dashboard:
    def __init__(self, runner: FormationRunner, host: str = "127.0.0.1", port: int = 0) -> None:
        self.runner = runner
        self.host, self.port = host, port
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app[RUNNER] = self.runner
        app.router.add_get("/", self._page)
        app.router.add_get("/formation.json", self._json)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server: Any = site._server
        port = server.sockets[0].getsockname()[1]
        self.url = f"http://{self.host}:{port}/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def _json(self, request: web.Request) -> web.Response:
        return web.json_response(formation_json(request.app[RUNNER]))


def _connections(status: dict[str, Any]) -> str | int:
    """Open connections, saying how many go through a relay."""
    count = status.get("connections", 0)
    relayed = status.get("relayed", 0)
    return f"{count} ({relayed} relayed)" if relayed else count
