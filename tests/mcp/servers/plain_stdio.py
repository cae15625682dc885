"""An MCP server written with nothing but the standard library, as a repository might
ship one: the sandbox image has python3 but not the `mcp` package, so the sandbox tests
put this file into the repository they trust. MCP's stdio transport: one JSON-RPC
message per line on stdin and stdout.

    python3 plain_stdio.py [MARKER]   MARKER: a file it writes in its cwd when it starts

Tools: `read_file(path)` (the file's text, or the error), `connect(host, port)` (whether
a TCP connection opened), `where()` (cwd, uid and the environment's keys).
"""
import json
import os
import socket
import sys

TOOLS = [
    {"name": "read_file", "description": "Read a file.",
     "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}},
                     "required": ["path"]}},
    {"name": "connect", "description": "Open a TCP connection.",
     "inputSchema": {"type": "object", "properties": {"host": {"type": "string"},
                                                      "port": {"type": "integer"}},
                     "required": ["host", "port"]}},
    {"name": "where", "description": "Where the server runs.",
     "inputSchema": {"type": "object", "properties": {}}},
]


def call(name, args):
    if name == "read_file":
        try:
            with open(args["path"]) as f:
                return f.read(), False
        except OSError as e:
            return f"cannot read: {e}", True
    if name == "connect":
        try:
            socket.create_connection((args["host"], int(args["port"])), timeout=3).close()
            return "connected", False
        except OSError as e:
            return f"cannot connect: {e}", True
    if name == "where":
        return json.dumps({"cwd": os.getcwd(), "uid": os.getuid(),
                           "env": sorted(os.environ)}), False
    return f"no tool {name}", True


def answer(message):
    method, params = message.get("method"), message.get("params") or {}
    if method == "initialize":
        return {"protocolVersion": params.get("protocolVersion"), "capabilities": {"tools": {}},
                "serverInfo": {"name": "plain", "version": "1"}}
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call":
        text, failed = call(params["name"], params.get("arguments") or {})
        return {"content": [{"type": "text", "text": text}], "isError": failed}
    if method == "ping":
        return {}
    return None


def main():
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write(str(os.getpid()))
    for line in sys.stdin:
        message = json.loads(line)
        if "id" not in message:   # a notification
            continue
        result = answer(message)
        reply = {"jsonrpc": "2.0", "id": message["id"]}
        if result is None:
            reply["error"] = {"code": -32601, "message": f"no method {message.get('method')}"}
        else:
            reply["result"] = result
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


main()
