"""Fixtures for the security tests: a local HTTP server that records every request it gets."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.messaging.conftest import (  # noqa: F401 - shared fixtures
    _messaging_settings,
    email_template,
    make_contact,
    push_template,
    sms_template,
    smtp_sink,
)


class Recorder(BaseHTTPRequestHandler):
    def _record(self):
        length = int(self.headers.get("Content-Length", 0) or 0)
        self.server.requests.append({"path": self.path, "body": self.rfile.read(length)})
        status, headers, body = self.server.reply(self.path)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET = _record  # noqa: N815

    def log_message(self, *args):
        pass


def _start(reply):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.requests = []
    server.reply = reply
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    server.port = server.server_address[1]
    server.url = f"http://127.0.0.1:{server.port}"
    return server


@pytest.fixture
def internal_server():
    """Plays an internal admin service: answers with a secret the outbox must never show."""
    server = _start(lambda path: (500, {"Content-Type": "text/plain"}, b"INTERNAL-SECRET-DATA"))
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def start_server():
    started = []

    def start(reply):
        server = _start(reply)
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()
