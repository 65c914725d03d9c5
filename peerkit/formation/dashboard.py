"""The formation dashboard: one page with the peers, their roles, links and live counters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .runner import FormationRunner

RUNNER: web.AppKey[Any] = web.AppKey("runner")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>peerkit formation</title>
<style>
 body { font: 14px system-ui, sans-serif; margin: 2em; color: #222; }
 table { border-collapse: collapse; margin-top: 1em; }
 th, td { padding: .3em .8em; border-bottom: 1px solid #ddd; text-align: left; }
 .ready { color: #080; } .failed, .exited { color: #b00; } .starting, .restarting { color: #a60; }
 svg { border: 1px solid #eee; margin-top: 1em; }
</style></head>
<body>
<h1>formation <span id="name"></span></h1>
<div><span id="count">0</span> peers, <span id="links">0</span> links</div>
<table><thead><tr><th>peer</th><th>role</th><th>state</th><th>connections</th>
<th>messages in</th><th>messages out</th><th>restarts</th></tr></thead>
<tbody id="peers"></tbody></table>
<svg id="graph" width="520" height="360"></svg>
<script>
async function refresh() {
  const f = await (await fetch("formation.json")).json();
  document.getElementById("name").textContent = f.name;
  document.getElementById("count").textContent = f.peers.length;
  const body = document.getElementById("peers");
  body.innerHTML = "";
  for (const p of f.peers) {
    const tr = document.createElement("tr");
    tr.className = "peer";
    for (const [v, cls] of [[p.name], [p.role], [p.state, p.state], [p.connections],
                            [p.messages_in], [p.messages_out], [p.restarts]]) {
      const td = document.createElement("td");
      td.textContent = v; if (cls) td.className = cls; tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  const svg = document.getElementById("graph"); svg.innerHTML = "";
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
  document.getElementById("links").textContent = links;
}
refresh(); setInterval(refresh, 1000);
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
                "messages_in": s.get("messages_in", 0),
                "messages_out": s.get("messages_out", 0),
                "restarts": p.restarts,
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
