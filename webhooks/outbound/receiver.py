"""A small local webhook receiver: the `webhook_receiver` command and the tests use it.

It records every request (headers and raw body), and answers with whatever it is told:
a status, headers, a body, or a delay. Binds 127.0.0.1 only.
"""

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict
    body: bytes
    received_at: float = field(default_factory=time.time)

    def header(self, name):
        return self.headers.get(name.lower())


@dataclass
class Answer:
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real receivers
    # Headers and body are two writes: without this, Nagle + delayed ACK add 40 ms each.
    disable_nagle_algorithm = True

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if len(body) < length:
            # The sender went away mid-body (a worker killed between the headers and the
            # body): not a request, as for any HTTP server. Recording it made a killed
            # send look like a duplicate with another body.
            self.close_connection = True
            return
        request = ReceivedRequest(
            method=self.command,
            path=self.path,
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
        )
        answer = self.server.receiver._record(request)
        if answer.delay:
            time.sleep(answer.delay)
        self.send_response(answer.status)
        for key, value in answer.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def log_message(self, format, *args):  # the command prints its own summary
        pass


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a concurrent sender's burst of new
    # connections would be dropped and retried by the kernel a second later.
    request_queue_size = 256


class WebhookReceiver:
    """Start with `start()` (port 0 = ephemeral); `url` is where to point a webhook.

    `answers` is a list consumed one per request (then `default` answers), or set
    `respond` to a callable(ReceivedRequest) -> Answer.
    """

    def __init__(self, port=0, default=None, on_request=None):
        self.requests = []
        self.answers = []
        self.default = default or Answer()
        self.respond = None
        self.on_request = on_request
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._server.receiver = self
        self._thread = None

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/"

    def _record(self, request):
        with self._lock:
            self.requests.append(request)
            if self.respond is not None:
                answer = self.respond(request)
            elif self.answers:
                answer = self.answers.pop(0)
            else:
                answer = self.default
        if self.on_request:
            self.on_request(request, answer)
        return answer

    def start(self):
        # A short poll interval makes stop() quick (tests start one receiver each).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        self._server.serve_forever()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
