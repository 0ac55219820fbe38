"""A scriptable stand-in for a TOM on 127.0.0.1, for client tests that need exact bytes on the wire:
Django's login dance (csrftoken cookie, then sessionid), then per-route scripted answers, including
faults a real server cannot be made to produce on demand (a body cut halfway, 503 + Retry-After,
invalid JSON, a connection closed without an answer, an answer that never comes).

Every request is recorded (method, path, query, headers, body) so tests can check what the client
sent. One request per connection (``Connection: close``), served by a thread per connection."""

from __future__ import annotations

import json
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

USER, PASSWORD = "tester", "correct horse"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def response(status: int, body: bytes = b"", ctype: str = "application/json", **headers) -> bytes:
    head = [f"HTTP/1.1 {status} X", f"Content-Type: {ctype}", f"Content-Length: {len(body)}"]
    head += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def json_response(status: int, data, **headers) -> bytes:
    return response(status, json.dumps(data).encode(), **headers)


def cut_chunked(body: bytes, ctype: str = "text/csv; charset=utf-8") -> bytes:
    """Half of a chunked body, then the connection closes (no terminating chunk)."""
    half = body[: len(body) // 2]
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    return head + f"{len(half):x}\r\n".encode() + half + b"\r\n"


def cut_content_length(body: bytes, ctype: str = "application/json") -> bytes:
    """A Content-Length promising the whole body, half of it sent, then close."""
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body[: len(body) // 2]


#: Special actions besides raw bytes.
DROP = "drop"  # close without answering
HANG = "hang"  # never answer (until the test ends)

Action = bytes | str | Callable[[Request], bytes]


class FakeTom(socketserver.ThreadingTCPServer):
    """Routes map a path (no leading slash) to a list of actions, used in order; the last one
    repeats. Unscripted paths get a 404 HTML page; ``accounts/login/`` does Django's login."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, list[Action]] = {}
        self.seen: list[Request] = []
        self.default: Action = response(404, b"<h1>Not Found</h1>", "text/html")
        self.lock = threading.Lock()
        self.stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def script(self, path: str, *actions: Action) -> None:
        self.routes[path] = list(actions)

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.seen if r.path == path]

    def next_action(self, req: Request) -> Action:
        with self.lock:
            self.seen.append(req)
            if req.path == "accounts/login/" and "accounts/login/" not in self.routes:
                return _login(req)
            if req.path == "" and "" not in self.routes:
                return response(200, b"<h1>TOM home</h1>", "text/html")
            actions = self.routes.get(req.path)
            if not actions:
                return self.default
            return actions.pop(0) if len(actions) > 1 else actions[0]

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.shutdown()
        self.server_close()


def _login(req: Request) -> bytes:
    if req.method == "GET":
        return response(
            200, b"<form>login</form>", "text/html", Set_Cookie="csrftoken=tok1; Path=/"
        )
    form = parse_qs(req.body.decode())
    ok = form.get("username") == [USER] and form.get("password") == [PASSWORD]
    ok = ok and form.get("csrfmiddlewaretoken") == ["tok1"]
    if not ok:
        return response(200, b"<p>Please enter a correct username and password.</p>", "text/html")
    return (  # Django: 302 to LOGIN_REDIRECT_URL with a session and a rotated CSRF token
        b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n"
        b"Set-Cookie: csrftoken=tok2; Path=/\r\nSet-Cookie: sessionid=s1; Path=/\r\n"
        b"Connection: close\r\n\r\n"
    )


def read_request(sock: socket.socket) -> tuple[bytes, bytes] | None:
    """One HTTP request from ``sock``: its head and its body (``Content-Length`` bytes, or what
    came before the peer closed); None if the peer closed before the head was complete."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    while m and len(body) < int(m.group(1)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head, body


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        srv: FakeTom = self.server
        sock: socket.socket = self.request
        got = read_request(sock)
        if got is None:
            return
        head, body = got
        lines = head.decode().split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
        }
        parts = urlsplit(target)
        req = Request(method, parts.path.lstrip("/"), parse_qs(parts.query), headers, body)
        action = srv.next_action(req)
        if callable(action):
            action = action(req)
        if action == DROP:
            return
        if action == HANG:
            srv.stop.wait(30)
            return
        sock.sendall(action)
        time.sleep(0.05)  # let the client read before the close
