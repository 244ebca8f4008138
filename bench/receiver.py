"""A fast loopback webhook receiver for the benchmarks (asyncio, HTTP/1.1 keep-alive).

Answers every POST with 200 and counts it; `GET /stats` returns the count, the first and last
arrival times (time.time()) and, with `?ids=1`, the arrival time of each `webhook-id`.
`POST /reset` clears the counters. Not a general HTTP server: just enough for our clients.

`--delay S` answers each webhook POST S seconds after it arrived (a slow receiver; arrivals are
still counted when they arrive); `--hang` accepts connections and never answers a POST (a hung
server). With `?ids=1` the stats also carry `posts` (webhook-id -> POSTs received) and `paths`
(path -> POSTs received). Without options it behaves as before.
"""

import argparse
import asyncio
import json
import time

STATS = {"count": 0, "first": None, "last": None}
ARRIVALS = {}  # webhook-id -> first arrival time
POSTS = {}  # webhook-id -> POSTs received
PATHS = {}  # path -> POSTs received
OPTIONS = {"delay": 0.0, "hang": False}


class ReceiverProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1")
            lines = head.split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < head_end + 4 + length:
                return
            self.buffer = self.buffer[head_end + 4 + length :]
            self.respond(lines[0], headers)

    def respond(self, request_line, headers):
        method, path, _ = request_line.split(" ", 2)
        if method == "GET" and path.startswith("/stats"):
            payload = dict(STATS)
            if "ids=1" in path:
                payload.update(arrivals=ARRIVALS, posts=POSTS, paths=PATHS)
            body = json.dumps(payload).encode()
        elif method == "POST" and path == "/reset":
            STATS.update(count=0, first=None, last=None)
            ARRIVALS.clear()
            POSTS.clear()
            PATHS.clear()
            body = b"{}"
        else:
            now = time.time()
            STATS["count"] += 1
            STATS["first"] = STATS["first"] or now
            STATS["last"] = now
            event_id = headers.get("webhook-id") or headers.get("django-webhook-uuid")
            if event_id and event_id not in ARRIVALS:
                ARRIVALS[event_id] = now
            if event_id:
                POSTS[event_id] = POSTS.get(event_id, 0) + 1
            PATHS[path] = PATHS.get(path, 0) + 1
            if OPTIONS["hang"]:
                return  # a hung server: the connection stays open, no answer ever comes
            if OPTIONS["delay"]:
                asyncio.get_running_loop().call_later(OPTIONS["delay"], self.write, b"ok")
                return
            body = b"ok"
        self.write(body)

    def write(self, body):
        if self.transport.is_closing():
            return  # the client gave up (timeout) before the delayed answer
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )


async def serve(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(ReceiverProtocol, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each POST is answered")
    parser.add_argument("--hang", action="store_true", help="never answer a POST")
    arguments = parser.parse_args()
    OPTIONS.update(delay=arguments.delay, hang=arguments.hang)
    asyncio.run(serve(arguments.port))
