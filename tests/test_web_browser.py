"""The live web page in a real headless Chromium, driven over the DevTools protocol.

The demo (`python run.py --web 0`) runs as a user runs it: the simulator and the bot over
loopback, printing the page's URL. Chromium (the system's package) loads the page; the test reads
its DOM through CDP's Runtime.evaluate, waits for a reprice to show, and writes a screenshot to
tests/artifacts/web.png (gitignored; the path is printed).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import trio_websocket

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed "
                                                 "(apt-get install -y chromium; .ci/run does)"),
]


class DevTools:
    """One page of a headless Chromium, over the browser's DevTools WebSocket."""

    def __init__(self, ws, session_id: str) -> None:
        self.ws = ws
        self.session = session_id
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    async def call(self, method: str, **params) -> dict:
        msg_id = next(self.ids)
        await self.ws.send_message(json.dumps({"id": msg_id, "method": method, "params": params,
                                               "sessionId": self.session}))
        while True:
            msg = json.loads(await self.ws.get_message())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg["result"]
            self.events.append(msg)

    async def js(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout_s: float = 20.0):
        with trio.fail_after(timeout_s):
            while not (value := await self.js(expression)):
                await trio.sleep(0.2)
        return value


async def _read_until(stream, marker: bytes) -> str:
    buf = b""
    while marker not in buf:
        chunk = await stream.receive_some(4096)
        if not chunk:
            raise AssertionError(f"stream ended before {marker!r}: {buf[-500:]!r}")
        buf += chunk
    line = buf[buf.index(marker):].split(b"\n")[0]
    while b"\n" not in buf[buf.index(marker):]:
        buf += await stream.receive_some(4096)
        line = buf[buf.index(marker):].split(b"\n")[0]
    return line.decode()


async def open_page(nursery, tmp_path, url: str) -> DevTools:
    proc = await trio.lowlevel.open_process(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--remote-debugging-port=0", "--remote-allow-origins=*",
         f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1400,1100", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    line = await _read_until(proc.stderr, b"DevTools listening on ")
    browser_url = line.split("DevTools listening on ", 1)[1].strip()
    ws = await trio_websocket.connect_websocket_url(nursery, browser_url,
                                                    max_message_size=64 * 2**20)

    async def drain_stderr():
        while await proc.stderr.receive_some(4096):
            pass

    nursery.start_soon(drain_stderr)
    targets = await _browser_call(ws, "Target.getTargets")
    page = next(t for t in targets["targetInfos"] if t["type"] == "page")
    attached = await _browser_call(ws, "Target.attachToTarget", targetId=page["targetId"],
                                   flatten=True)
    tools = DevTools(ws, attached["sessionId"])
    tools.process = proc
    await tools.call("Network.enable")
    await tools.call("Page.enable")
    await tools.call("Page.navigate", url=url)
    return tools


async def _browser_call(ws, method: str, **params) -> dict:
    await ws.send_message(json.dumps({"id": 10_000, "method": method, "params": params}))
    while True:
        msg = json.loads(await ws.get_message())
        if msg.get("id") == 10_000:
            return msg["result"]


async def start_demo(nursery, tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for name in ("BOT_TELEGRAM_TOKEN", "BOT_TELEGRAM_CHAT_ID", "BOT_ALERT_WEBHOOK_URL",
                 "BOT_WEB_TOKEN"):
        env.pop(name, None)
    proc = await trio.lowlevel.open_process(
        [sys.executable, str(ROOT / "run.py"), "--web", "0", "--duration", "60", "--quiet",
         "--db", str(tmp_path / "demo.db")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
    line = await _read_until(proc.stdout, b"web page: ")
    url = line.split("web page: ", 1)[1].strip()

    async def drain():
        while await proc.stdout.receive_some(4096):
            pass

    nursery.start_soon(drain)
    return proc, url


async def test_the_page_shows_both_demo_ads_and_follows_a_reprice_live(tmp_path):
    ads_js = """JSON.stringify([...document.querySelectorAll('#ads tbody tr')].map(r => [
        r.dataset.adv, r.querySelector('.price').dataset.price,
        r.querySelector('.competitor').textContent]))"""
    reprices_js = "Number((document.getElementById('counts').textContent.match(" \
                  "/reprices (\\d+)/) || [0, -1])[1])"
    async with trio.open_nursery() as nursery:
        demo, url = await start_demo(nursery, tmp_path)
        assert url.startswith("http://127.0.0.1:")
        page = await open_page(nursery, tmp_path, url)
        try:
            await page.wait_for("document.querySelectorAll('#ads tbody tr').length === 2")
            ads = json.loads(await page.js(ads_js))
            assert len({adv for adv, _, _ in ads}) == 2 and all(price for _, price, _ in ads)
            assert await page.js("document.querySelectorAll('#charts svg polyline').length") == 4
            seen = await page.js(reprices_js)
            before = {adv: price for adv, price, _ in ads}
            # A reprice in the bot shows up without a reload: the count and a price move.
            await page.wait_for(f"{reprices_js} > {seen}", timeout_s=30)
            await page.wait_for(
                f"JSON.stringify(Object.fromEntries(JSON.parse({ads_js}).map(a => [a[0], a[1]])))"
                f" !== {json.dumps(json.dumps(before, separators=(',', ':')))}", timeout_s=30)
            decisions = await page.js("document.querySelectorAll('#decisions tbody tr').length")
            assert decisions > 0
            shot = await page.call("Page.captureScreenshot", format="png")
            ARTIFACTS.mkdir(exist_ok=True)
            path = ARTIFACTS / "web.png"
            path.write_bytes(base64.b64decode(shot["data"]))
            print(f"screenshot: {path}")
            requested = [e["params"]["request"]["url"] for e in page.events
                         if e.get("method") == "Network.requestWillBeSent"]
            assert requested and all(u.startswith(url) for u in requested), requested
        finally:
            with trio.move_on_after(5):
                await _browser_call(page.ws, "Browser.close")
                await page.process.wait()
            page.process.kill()
            demo.send_signal(signal.SIGINT)
            with trio.move_on_after(10):
                await demo.wait()
            demo.kill()
            nursery.cancel_scope.cancel()
