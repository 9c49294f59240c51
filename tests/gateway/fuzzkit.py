"""A seeded request generator for the gateway: valid, nearly valid and hostile
requests mixed, and the checks every answer must pass.

Used by tests/gateway/test_gateway_fuzz.py (a few hundred requests per front
end) and bench/fuzz.py (20,000 and more, with memory watched).
"""
from __future__ import annotations

import http.client
import json
import random
import re
import urllib.parse
from xml.etree import ElementTree as ET

SERVERS = ["worlds/hello-python", "minds/hello-python", "hello-python", "worlds/tiny", "worlds/nope",
           "worlds/../../etc/passwd", "worlds/%2e%2e", "minds/", "", "worlds/hello-python/extra", "a" * 300]
QUERIES = ["Describe", "StartRun", "EndRun", "GetState", "ExecuteAction", "GetScore", "HereIsState",
           "GetAction", "GetLog", "", "getstate", "Drop", "\x01", "StartRun\x00"]
HOSTILE = [
    '<!DOCTYPE s [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><s>&b;</s>',
    '<!DOCTYPE s SYSTEM "file:///etc/passwd"><s/>',
    "<a>" * 200 + "</a>" * 200,
    "<s>&xxe;</s>",
    "<s><unclosed></s>",
    "\x00\x01 control",
    "x" * 70000,
    "<s xmlns:p='urn:p'><p:b a='1'/></s>",
    "<![CDATA[x]]>",
    "\ud800",
]


def payload(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        return rng.choice(["50", "25", "low: 1\nhigh: 100\n", "<guess>50</guess>", "1", "hello"])
    if roll < 0.8:
        return rng.choice(HOSTILE)
    return "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(0, 40)))


def valid(rng: random.Random, runs: list[tuple[str, str]]) -> tuple[str, str, bytes, dict, str]:
    """A request a polite client would send: the other half of the mix."""
    if runs and rng.random() < 0.7:
        server, run = rng.choice(runs)
        queries = ["GetState", "ExecuteAction", "GetScore", "GetLog"] if server.startswith("worlds") else \
            ["GetAction", "GetLog"]
        params = {"query": rng.choice(queries), "run": run, "format": rng.choice(["json", "xml", "text"])}
        if params["query"] == "ExecuteAction":
            params["action"] = str(rng.randrange(1, 101))
        if params["query"] == "GetAction":
            params["state"] = "low: 1\nhigh: 100\n"
    else:
        server = rng.choice(["worlds/hello-python", "minds/hello-python"])
        params = {"query": rng.choice(["Describe", "StartRun"]), "format": rng.choice(["json", "xml", "text"])}
    return "GET", f"{server}?{urllib.parse.urlencode(params)}", b"", {}, params["query"]


def request(rng: random.Random, runs: list[tuple[str, str]]) -> tuple[str, str, bytes, dict, str]:
    """``(method, target, body, headers, query)`` for the gateway at path prefix ``/``."""
    if rng.random() < 0.4:
        return valid(rng, runs)
    server = rng.choice(SERVERS) if rng.random() < 0.3 else rng.choice(["worlds/hello-python", "minds/hello-python"])
    params: dict[str, str] = {"query": rng.choice(QUERIES)}
    if runs and rng.random() < 0.7:
        params["run"] = rng.choice(runs)[1]
    elif rng.random() < 0.3:
        params["run"] = rng.choice(["", "A" * 24, "../../x", "\ud800" * 3, "a b"])
    for key in ("action", "state", "seed", "format", "minds", "param.steps"):
        if rng.random() < 0.3:
            params[key] = payload(rng) if key in ("action", "state") else rng.choice(
                ["1", "-5", "x", "\u0663", "json", "xml", "text", "html", "", "9" * 30])
    method = rng.choice(["GET", "GET", "POST", "POST", "HEAD", "PUT"])
    quoted = urllib.parse.quote(server, safe="/%.")
    query = urllib.parse.urlencode(params, errors="surrogatepass") if rng.random() < 0.9 else "%ff%fe=%c0"
    headers: dict[str, str] = {}
    body = b""
    if method == "POST":
        kind = rng.random()
        if kind < 0.4:
            body, query = query.encode(), ""
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif kind < 0.7:
            field = "action" if params["query"] == "ExecuteAction" else "state"
            inner = params.get(field, payload(rng))
            run = f' run="{params["run"]}"' if "run" in params else ""
            doc = f'<wwm version="1"><request query="{params["query"]}"{run}><{field}>{inner}</{field}></request></wwm>'
            body = doc.encode("utf-8", "surrogatepass") if rng.random() < 0.9 else doc.encode("utf-16", "surrogatepass")
            headers["Content-Type"] = rng.choice(["application/xml", "text/xml"])
            query = ""
        elif kind < 0.85:
            body = payload(rng).encode("utf-8", "surrogatepass")
            headers["Content-Type"] = "text/plain"
        else:
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
            headers["Content-Type"] = rng.choice(["application/octet-stream", "application/xml", ""])
    return method, f"{quoted}?{query}" if query else quoted, body, headers, params["query"]


RUN_IN = re.compile(rb'"run": "([A-Za-z0-9_-]{22,64})"|run="([A-Za-z0-9_-]{22,64})"|\A([A-Za-z0-9_-]{22,64})\Z')


def started_run(data: bytes) -> str | None:
    """The run id in a StartRun answer, whatever its format."""
    m = RUN_IN.search(data.strip())
    return next((g.decode() for g in m.groups() if g), None) if m else None


def check(status: int, ctype: str, body: bytes, method: str) -> str | None:
    """What is wrong with an answer, or None: never a 500, never a traceback, XML well-formed."""
    if status >= 500 and status not in (502, 503, 504, 507):
        return f"HTTP {status}"
    if b"Traceback" in body:
        return "a traceback in the body"
    if method != "HEAD" and ctype.startswith("application/xml"):
        try:
            ET.fromstring(body)
        except ET.ParseError as exc:
            return f"XML that is not well-formed: {exc}"
    if method != "HEAD" and ctype.startswith("application/json"):
        try:
            json.loads(body)
        except ValueError as exc:
            return f"JSON that does not parse: {exc}"
    return None


def fuzz(port: int, prefix: str, n: int, seed: int, progress=None) -> dict:
    """Send ``n`` generated requests to ``127.0.0.1:port``; return counts and problems.

    Runs started on the way are remembered (their ids come back in StartRun
    answers) and all ended at the end."""
    rng = random.Random(seed)
    runs: list[tuple[str, str]] = []
    stats = {"requests": 0, "by_status": {}, "problems": []}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(n):
        method, target, body, headers, query = request(rng, runs)
        try:
            conn.request(method, prefix + target, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (http.client.HTTPException, OSError):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue  # a server may close on a request it refuses outright; the next one opens anew
        stats["requests"] += 1
        stats["by_status"][resp.status] = stats["by_status"].get(resp.status, 0) + 1
        problem = check(resp.status, resp.getheader("Content-Type", ""), data, method)
        if problem:
            stats["problems"].append(f"{method} {target[:120]!r}: {problem}")
        run = started_run(data) if resp.status == 200 and query == "StartRun" and method != "HEAD" else None
        if run:
            server = target.split("?")[0]
            runs.append((server if "/" in server else f"worlds/{server}", run))
        if len(runs) > 8:  # keep well under the per-client share
            end(conn, prefix, *runs.pop(0))
        if progress and i % 1000 == 999:
            progress(i + 1, stats)
    for server, run in runs:
        end(conn, prefix, server, run)
    conn.close()
    return stats


def end(conn, prefix: str, server: str, run: str) -> None:
    try:
        conn.request("GET", f"{prefix}{server}?query=EndRun&run={run}")
        conn.getresponse().read()
    except (http.client.HTTPException, OSError):
        conn.close()
