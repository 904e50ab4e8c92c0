"""A counting SMTP sink (aiosmtpd) in its own process, for bench/journeys.py.

The sink used to run in a thread of the bench process: every send then paid a GIL hand-over between
the sender and the server, and a busy CPU delayed it, so the measured "capacity" and delivery both
measured the bench's own contention. In its own process the sink is what a real local MTA is: another
program on the other end of a socket. It keeps the recipients and the bytes it received and hands them
to the bench on request (a pipe, outside the SMTP conversation).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import socket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Counting:
    def __init__(self) -> None:
        self.recipients: list[str] = []
        self.bytes = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.recipients.extend(envelope.rcpt_tos)
        self.bytes += len(envelope.original_content or envelope.content or b"")
        return "250 OK"


def _serve(port: int, pipe) -> None:
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # one INFO line per SMTP command otherwise
    handler = _Counting()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    pipe.send("ready")
    try:
        while True:
            command = pipe.recv()
            if command == "report":
                pipe.send((list(handler.recipients), handler.bytes))
            else:
                break
    finally:
        controller.stop()


class SinkProcess:
    """`with SinkProcess() as sink:` an SMTP server on 127.0.0.1:`sink.port` in a child process."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        context = multiprocessing.get_context("spawn")  # no Django, no database connection inherited
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(self.port, child), daemon=True)

    def __enter__(self) -> SinkProcess:
        self.process.start()
        if not self.pipe.poll(30) or self.pipe.recv() != "ready":
            raise RuntimeError("the SMTP sink process did not start")
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(OSError):
            self.pipe.send("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()

    def report(self) -> tuple[list[str], int]:
        """(recipients of every email received so far, total bytes of their DATA)."""
        self.pipe.send("report")
        return self.pipe.recv()

    @property
    def count(self) -> int:
        return len(self.report()[0])
