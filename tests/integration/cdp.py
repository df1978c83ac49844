"""Headless Chromium driven over the DevTools protocol (no extra packages): open a
page, evaluate JavaScript in it, wait for what a user would see."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

from websockets.sync.client import connect

from conftest import free_port, wait_for


class Browser:
    def __init__(self):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            raise RuntimeError("chromium is not installed (scripts/bootstrap.sh installs it)")
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="pgfleet-chromium-")
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             f"--remote-debugging-port={self.port}", f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._page, timeout=30, what="chromium's DevTools endpoint")
        self._conn = connect(self.page_ws, max_size=None, open_timeout=10)
        self.ws = self._conn.__enter__()
        self.seq = 0

    def _page(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=1) as r:
            pages = [p for p in json.load(r) if p["type"] == "page"]
        if pages:
            self.page_ws = pages[0]["webSocketDebuggerUrl"]
            return True
        return False

    def send(self, method, **params):
        self.seq += 1
        self.ws.send(json.dumps({"id": self.seq, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == self.seq:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def eval(self, js):
        r = self.send("Runtime.evaluate", expression=js, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"JavaScript failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def open(self, url):
        self.send("Page.navigate", url=url)
        time.sleep(0.2)
        wait_for(lambda: self.eval("document.readyState") == "complete", timeout=15, what="page load")

    def wait_text(self, selector, needle, timeout=20):
        js = f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || ''"
        wait_for(lambda: needle in self.eval(js), timeout=timeout, what=f"'{needle}' in {selector}")
        return self.eval(js)

    def close(self):
        try:
            self._conn.__exit__(None, None, None)
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            shutil.rmtree(self.profile, ignore_errors=True)
