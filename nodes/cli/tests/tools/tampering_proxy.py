"""A storage node that lies: forwards JSON-RPC to a real zg-storage node and flips one
byte of every segment `zgs_downloadSegmentWithProof` returns (the proof stays genuine).

usage: python3 tampering_proxy.py UPSTREAM_URL   (prints "listening http://127.0.0.1:PORT")
"""

import base64
import json
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = sys.argv[1]


def tamper(answer):
    result = answer.get("result")
    if isinstance(result, dict) and isinstance(result.get("data"), str):
        data = bytearray(base64.b64decode(result["data"]))
        if data:
            data[0] ^= 0x01
        result["data"] = base64.b64encode(bytes(data)).decode()
    return answer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        request = urllib.request.Request(UPSTREAM, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as upstream:
            answer = json.load(upstream)
        if json.loads(body).get("method") == "zgs_downloadSegmentWithProof":
            answer = tamper(answer)
        out = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
