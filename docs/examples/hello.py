#!/usr/bin/python3
"""A function for nginx-faas, in Python: an HTTP server on 127.0.0.1:$PORT.

The contract is the whole API: listen on the port given in $PORT, answer
HTTP.  FAAS_FUNCTION, FAAS_REVISION and the function's "env" entries come
in the environment.  /healthz answers once the server is ready (the
controller's readiness probe, "health /healthz;" in nginx.conf).
"""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: without this, Nagle's
    # algorithm holds the body back on a kept-alive connection (~40 ms)
    disable_nagle_algorithm = True

    def do_GET(self):
        if self.path == "/healthz":
            self.answer(200, b"ok\n", "text/plain")
            return

        body = json.dumps({
            "greeting": os.environ.get("GREETING", "hello"),
            "function": os.environ.get("FAAS_FUNCTION", ""),
            "revision": os.environ.get("FAAS_REVISION", ""),
            "path": self.path,
        }).encode() + b"\n"
        self.answer(200, body, "application/json")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        data = self.rfile.read(length)
        self.answer(200, data.upper(), "text/plain")

    def answer(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Hello)
    server.daemon_threads = True
    server.serve_forever()
