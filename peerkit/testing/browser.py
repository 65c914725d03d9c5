"""A real browser for end-to-end tests of a dapp's pages: headless Chromium driven over the
DevTools protocol (no WebDriver, no npm), with a deterministic test wallet injected as the
page's EIP-1193 provider (``window.ethereum``).

    async with Browser.launch() as browser:
        page = await browser.new_page()
        await page.inject_wallet(EthereumWallet(b"\\x01" * 32))
        await page.goto("http://127.0.0.1:8080/cms/")
        await page.fill("#passphrase", "secret")
        await page.click("button[type=submit]")
        await page.wait_for("!document.getElementById('app').hidden")
        await page.screenshot(Path("alice.png"))

The wallet's key stays in the test process: the provider in the page asks it through a
DevTools binding, as a real wallet extension signs outside the page.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp

from ..errors import PeerkitError
from ..wallets import EthereumWallet

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


class BrowserError(PeerkitError):
    code = "browser"


def find_chromium() -> str | None:
    """The path of a Chromium-family browser, or None (``PEERKIT_CHROMIUM`` overrides)."""
    configured = os.environ.get("PEERKIT_CHROMIUM")
    if configured:
        return configured
    return next((p for name in CANDIDATES if (p := shutil.which(name))), None)


class Browser:
    def __init__(self, proc: asyncio.subprocess.Process, port: int, profile: str) -> None:
        self.proc = proc
        self.port = port
        self.profile = profile
        self.http = aiohttp.ClientSession()
        self.pages: list[Page] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def launch(cls, *, timeout: float = 30.0) -> AsyncIterator[Browser]:
        path = find_chromium()
        if path is None:
            raise BrowserError("no Chromium found", hint="apt-get install chromium")
        profile = tempfile.mkdtemp(prefix="peerkit-browser-")
        proc = await asyncio.create_subprocess_exec(
            path,
            "--headless=new",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--window-size=1100,1400",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        browser: Browser | None = None
        try:
            port = await _devtools_port(Path(profile), timeout)
            browser = cls(proc, port, profile)
            yield browser
        finally:
            if browser is not None:
                for page in browser.pages:
                    await page.close()
                await browser.http.close()
            proc.kill()
            await proc.wait()
            shutil.rmtree(profile, ignore_errors=True)

    async def new_page(self) -> Page:
        async with self.http.put(f"http://127.0.0.1:{self.port}/json/new?about:blank") as resp:
            target = await resp.json()
        page = Page(
            self, await self.http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
        )
        self.pages.append(page)
        await page.start()
        return page


async def _devtools_port(profile: Path, timeout: float) -> int:
    """Chromium writes the port it picked to DevToolsActivePort in its profile."""
    marker = profile / "DevToolsActivePort"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not marker.exists() or not marker.read_text().strip():
        if loop.time() > deadline:
            raise BrowserError(f"Chromium did not open its DevTools port within {timeout}s")
        await asyncio.sleep(0.05)  # a file Chromium writes: nothing to wait on but the file
    return int(marker.read_text().split()[0])


class Page:
    """One tab: DevTools commands, with the events they raise."""

    def __init__(self, browser: Browser, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.browser = browser
        self.ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._listeners: dict[str, list[Callable[[dict[str, Any]], None]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.console: list[str] = []
        self._tasks: set[asyncio.Future[Any]] = set()

    async def start(self) -> None:
        self._reader = asyncio.ensure_future(self._read())
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        self.on("Runtime.consoleAPICalled", self._console)
        self.on("Runtime.exceptionThrown", self._exception)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self.ws.close()

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            if "id" in message:
                fut = self._waiting.pop(message["id"], None)
                if fut is not None and not fut.done():
                    if "error" in message:
                        fut.set_exception(BrowserError(message["error"].get("message", "")))
                    else:
                        fut.set_result(message.get("result", {}))
            for listener in self._listeners.get(message.get("method", ""), []):
                listener(message.get("params", {}))

    def on(self, event: str, listener: Callable[[dict[str, Any]], None]) -> None:
        self._listeners.setdefault(event, []).append(listener)

    async def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        await self.ws.send_str(json.dumps({"id": rid, "method": method, "params": params or {}}))
        return await asyncio.wait_for(fut, 30)

    def _console(self, params: dict[str, Any]) -> None:
        args = params.get("args", [])
        self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))

    def _exception(self, params: dict[str, Any]) -> None:
        details = params.get("exceptionDetails", {})
        text = details.get("exception", {}).get("description") or details.get("text", "")
        self.console.append(f"exception: {text}")

    # --- what a test does ------------------------------------------------------------------

    async def goto(self, url: str) -> None:
        loaded: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def fired(_: dict[str, Any]) -> None:
            if not loaded.done():
                loaded.set_result(None)

        self.on("Page.loadEventFired", fired)
        await self.send("Page.navigate", {"url": url})
        await asyncio.wait_for(loaded, 30)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited); BrowserError if it threw."""
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"the page threw: {text}")
        return result.get("result", {}).get("value")

    async def wait_for(self, condition: str, timeout: float = 10.0) -> Any:
        """Until the JavaScript ``condition`` is truthy: checked in the page at every DOM
        change (a MutationObserver), not by polling from here."""
        script = f"""new Promise((resolve, reject) => {{
            const check = () => {{ try {{ return ({condition}); }} catch (e) {{ return false; }} }};
            const now = check();
            if (now) return resolve(now);
            const observer = new MutationObserver(() => {{
                const value = check();
                if (value) {{ observer.disconnect(); clearTimeout(timer); resolve(value); }}
            }});
            observer.observe(document, {{subtree: true, childList: true, attributes: true,
                                         characterData: true}});
            const timer = setTimeout(() => {{ observer.disconnect();
                reject(new Error("timed out waiting for: " + {json.dumps(condition)})); }},
                {int(timeout * 1000)});
        }})"""
        return await self.evaluate(script)

    async def fill(self, selector: str, text: str) -> None:
        await self.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            f" el.value = {json.dumps(text)};"
            " el.dispatchEvent(new Event('input', {bubbles: true})); })()"
        )

    async def click(self, selector: str) -> None:
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    async def text(self, selector: str) -> str:
        value = await self.evaluate(f"document.querySelector({json.dumps(selector)}).textContent")
        return str(value)

    async def value(self, selector: str) -> str:
        return str(await self.evaluate(f"document.querySelector({json.dumps(selector)}).value"))

    async def set_files(self, selector: str, files: list[Path]) -> None:
        """Choose files in an ``<input type=file>`` as a person would."""
        document = await self.send("DOM.getDocument")
        found = await self.send(
            "DOM.querySelector", {"nodeId": document["root"]["nodeId"], "selector": selector}
        )
        await self.send(
            "DOM.setFileInputFiles",
            {"nodeId": found["nodeId"], "files": [str(f.resolve()) for f in files]},
        )

    async def screenshot(self, path: Path) -> Path:
        """The whole page as a PNG (not only the window)."""
        # A tab left in the background for a while gets no new frames, and the capture would
        # wait for one (seen after a minute of live edits in another tab)
        await self.send("Page.bringToFront")
        size = (await self.send("Page.getLayoutMetrics"))["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = await self.send(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": clip},
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    async def inject_wallet(self, wallet: EthereumWallet) -> None:
        """Install ``wallet`` as ``window.ethereum`` in every document this page loads: an
        EIP-1193 provider answering ``eth_requestAccounts``/``eth_accounts`` and
        ``personal_sign`` (EIP-191), whose signatures are made here, in the test."""

        def sign(params: dict[str, Any]) -> None:
            if params.get("name") != "peerkitWallet":
                return
            request = json.loads(params["payload"])
            message = bytes.fromhex(request["message"].removeprefix("0x"))
            signature = "0x" + wallet.sign(message).hex()
            answer = asyncio.ensure_future(
                self.evaluate(
                    f"window.__peerkitWallet.resolve({request['id']}, {json.dumps(signature)})"
                )
            )
            self._tasks.add(answer)
            answer.add_done_callback(self._tasks.discard)

        self.on("Runtime.bindingCalled", sign)
        await self.send("Runtime.addBinding", {"name": "peerkitWallet"})
        provider = f"""
        (() => {{
          const pending = new Map();
          let next = 1;
          window.__peerkitWallet = {{
            resolve: (id, value) => {{ pending.get(id)(value); pending.delete(id); }},
          }};
          const address = {json.dumps(wallet.address)};
          window.ethereum = {{
            isPeerkitTestWallet: true,
            async request({{ method, params }}) {{
              if (method === "eth_requestAccounts" || method === "eth_accounts") return [address];
              if (method === "eth_chainId") return "0x1";
              if (method === "personal_sign") {{
                const id = next++;
                return new Promise((resolve) => {{
                  pending.set(id, resolve);
                  window.peerkitWallet(JSON.stringify({{ id, message: params[0] }}));
                }});
              }}
              throw Object.assign(new Error(`unsupported method ${{method}}`), {{ code: 4200 }});
            }},
          }};
        }})();
        """
        await self.send("Page.addScriptToEvaluateOnNewDocument", {"source": provider})
