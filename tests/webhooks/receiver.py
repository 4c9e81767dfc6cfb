"""A webhook receiver for tests/webhooks/run.sh: it verifies every delivery with the
independent `standardwebhooks` package and logs what it saw.

POST /control {"secrets": [...], "fail_first": n} sets the secrets a delivery is checked
against and makes the next n first attempts answer 500. POST /hook is a delivery: it is
checked against each secret on its own (which ones verify is logged), answered 400 if none
does, 500 if it is to fail, else 204. GET /log answers everything seen.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

state = {"secrets": [], "fail_first": 0, "log": []}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            body = json.dumps(state["log"]).encode()
        self.answer(200, body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path == "/control":
            with lock:
                state.update(json.loads(body))
            return self.answer(204)
        headers = {k: v for k, v in self.headers.items()}
        verified_by = []
        with lock:
            secrets = list(state["secrets"])
        for index, secret in enumerate(secrets):
            try:
                Webhook(secret).verify(body, headers)
                verified_by.append(index)
            except WebhookVerificationError:
                pass
        attempt = headers.get("roster-attempt", headers.get("Roster-Attempt"))
        with lock:
            fail = bool(verified_by) and attempt == "1" and state["fail_first"] > 0
            if fail:
                state["fail_first"] -= 1
            state["log"].append({
                "id": self.headers.get("webhook-id"),
                "attempt": attempt,
                "type": self.headers.get("roster-event-type"),
                "signatures": len(self.headers.get("webhook-signature", "").split(" ")),
                "verified_by": verified_by,
                "answered": 400 if not verified_by else (500 if fail else 204),
                "body": json.loads(body),
            })
        if not verified_by:
            return self.answer(400, b"no signature verified")
        self.answer(500 if fail else 204)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as out:
    out.write(str(server.server_address[1]))
server.serve_forever()
