"""The small upstream page of bench/gate_bench.py: a tracker stand-in (ASGI, served by uvicorn) that answers
every request with a ~1 KB HTML page naming the Remote-User it was given, as a tracker's page would."""

from __future__ import annotations

from typing import Any

PAGE = (b"<!doctype html><html lang=en><head><meta charset=utf-8><title>Board</title></head><body>"
        b"<header>Signed in as {user}</header><main><h1>Your work</h1><table>"
        + b"".join(b"<tr><td>JIB-%d</td><td>A small issue summary that a tracker would show</td><td>To Do</td></tr>"
                   % i for i in range(8))
        + b"</table></main></body></html>")


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    user = next((value for name, value in scope["headers"] if name == b"remote-user"), b"nobody")
    body = PAGE.replace(b"{user}", user.replace(b"<", b"").replace(b"&", b""))
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
