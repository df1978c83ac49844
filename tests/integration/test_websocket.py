"""/ws: subscribe to topics and receive JSON events; auth; bad messages get an
error and the connection stays usable."""
import asyncio
import json

import pytest
import websockets

from conftest import AUTH_KEY


async def recv_json(ws, timeout=5):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws, pred, timeout=5):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        msg = await recv_json(ws, max(left, 0.01))
        if pred(msg):
            return msg


def run(coro):
    return asyncio.run(coro)


def test_subscribe_heartbeat_with_header_auth(daemon):
    async def go():
        async with websockets.connect(daemon.ws_url,
                                      additional_headers={"Authorization": f"Bearer {AUTH_KEY}"}) as ws:
            welcome = await recv_json(ws)
            assert welcome["type"] == "welcome" and welcome["authenticated"] is True
            assert "heartbeat" in welcome["topics"]
            await ws.send(json.dumps({"type": "subscribe", "topics": ["heartbeat"]}))
            assert (await recv_json(ws)) == {"type": "subscribed", "topics": ["heartbeat"]}
            ev = await recv_until(ws, lambda m: m["type"] == "event", timeout=4)
            assert ev["topic"] == "heartbeat"
            assert ev["data"]["seq"] >= 1 and ev["data"]["store"] == "ready"
            assert ev["data"]["websocket_clients"] >= 1
            ev2 = await recv_until(ws, lambda m: m["type"] == "event", timeout=4)
            assert ev2["data"]["seq"] > ev["data"]["seq"]
    run(go())


def test_subscribe_needs_auth_and_auth_message_works(daemon):
    async def go():
        async with websockets.connect(daemon.ws_url) as ws:
            assert (await recv_json(ws))["authenticated"] is False
            await ws.send(json.dumps({"type": "subscribe", "topics": ["heartbeat"]}))
            err = await recv_json(ws)
            assert err["type"] == "error" and err["error"]["code"] == "unauthorized"
            await ws.send(json.dumps({"type": "auth", "key": "wrong"}))
            err = await recv_json(ws)
            assert err["error"]["code"] == "unauthorized"
            await ws.send(json.dumps({"type": "auth", "key": AUTH_KEY}))
            assert (await recv_json(ws)) == {"type": "auth_ok", "role": "admin"}
            await ws.send(json.dumps({"type": "subscribe", "topics": ["heartbeat"]}))
            assert (await recv_json(ws))["type"] == "subscribed"
            ev = await recv_until(ws, lambda m: m["type"] == "event", timeout=4)
            assert ev["topic"] == "heartbeat"
    run(go())


def test_bad_messages_get_errors_and_connection_stays(daemon):
    async def go():
        async with websockets.connect(daemon.ws_url,
                                      additional_headers={"X-API-Key": AUTH_KEY}) as ws:
            await recv_json(ws)
            cases = [
                ("{not json", "bad_json"),
                (json.dumps({"type": "dance"}), "validation_failed"),
                (json.dumps({"no": "type"}), "validation_failed"),
                (json.dumps({"type": "subscribe", "topics": "heartbeat"}), "validation_failed"),
                (json.dumps({"type": "subscribe", "topics": ["heartbeat", "bogus"]}), "validation_failed"),
                ("x" * 70000, "payload_too_large"),
            ]
            for raw, code in cases:
                await ws.send(raw)
                msg = await recv_until(ws, lambda m: m["type"] != "event")
                assert msg["type"] == "error" and msg["error"]["code"] == code, (raw[:40], msg)
            await ws.send(b"\x00\x01")
            msg = await recv_until(ws, lambda m: m["type"] != "event")
            assert msg["error"]["code"] == "bad_json"
            await ws.send(json.dumps({"type": "ping"}))
            assert (await recv_until(ws, lambda m: m["type"] != "event")) == {"type": "pong"}
            # nothing was subscribed by the failed request with one bad topic
            await ws.send(json.dumps({"type": "unsubscribe", "topics": ["heartbeat"]}))
            assert (await recv_until(ws, lambda m: m["type"] != "event"))["topics"] == []
    run(go())


def test_only_ws_path_upgrades(daemon):
    async def go():
        with pytest.raises(Exception):
            async with websockets.connect(daemon.url.replace("http", "ws") + "/elsewhere"):
                pass
    run(go())
    r = daemon.get("/ws")
    assert r.status_code == 400 and "WebSocket" in r.json()["error"]["message"]


def test_many_clients_each_get_events(daemon):
    async def client():
        async with websockets.connect(daemon.ws_url,
                                      additional_headers={"X-API-Key": AUTH_KEY}) as ws:
            await recv_json(ws)
            await ws.send(json.dumps({"type": "subscribe", "topics": ["heartbeat"]}))
            await recv_json(ws)
            ev = await recv_until(ws, lambda m: m["type"] == "event", timeout=4)
            return ev["data"]["websocket_clients"]

    async def go():
        return await asyncio.gather(*[client() for _ in range(20)])
    counts = run(go())
    assert len(counts) == 20 and max(counts) >= 2
