"""Slow clients (headers, then a body that trickles or never comes) must not
block anyone else. `wwm serve` (waitress) reads each request completely on its
event loop before a worker thread sees it, so 40 such connections cost no
worker; and the connection is dropped after channel_timeout (120 s)."""
from __future__ import annotations

import socket
import time
import urllib.request

from gwkit import copy_hello, free_port, start_serve, stop_process


def slow_bodies(port: int, n: int) -> list[socket.socket]:
    """``n`` connections that send headers and the start of a body, then nothing."""
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"POST /wwm/worlds/hello-python HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nquery=")
        conns.append(s)
    return conns


def describe_takes(port: int) -> float:
    """Seconds for five Describes from a polite client."""
    started = time.monotonic()
    for _ in range(5):
        url = f"http://127.0.0.1:{port}/wwm/worlds/hello-python?query=Describe&format=json"
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.status == 200
    return time.monotonic() - started


def test_slow_bodies_do_not_block_wwm_serve(tmp_path, runs_dir):
    root = tmp_path / "root"
    copy_hello(root)
    port = free_port()
    serve = start_serve(tmp_path / "srv", root, runs_dir, port)
    slow = []
    try:
        slow += slow_bodies(port, 40)  # more than the 32 worker threads
        assert describe_takes(port) < 10  # not queued behind the slow ones (each would hold for 120 s)
    finally:
        for s in slow:
            s.close()
        stop_process(serve)


NGINX_CONF = """\
daemon off;
worker_processes 1;
{user}
pid {files}/nginx.pid;
error_log {files}/error.log;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {files}/body;
    proxy_temp_path {files}/proxy;
    fastcgi_temp_path {files}/fastcgi;
    uwsgi_temp_path {files}/uwsgi;
    scgi_temp_path {files}/scgi;
    client_header_timeout 10s;
    client_body_timeout 10s;
    client_max_body_size 2m;
    upstream wwm {{ server 127.0.0.1:{upstream}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        location /wwm/ {{
            proxy_pass http://wwm;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Real-IP $remote_addr;
            proxy_request_buffering on;
        }}
    }}
}}
"""


def test_gunicorn_behind_a_buffering_nginx_is_not_blocked_by_slow_clients(tmp_path, runs_dir):
    """The deployment docs/gateway.md recommends for gunicorn on the open internet:
    nginx reads each request in full before gunicorn sees it (its worker threads
    would otherwise each wait on one slow body)."""
    import os
    import shutil
    import subprocess
    import sys

    from gwkit import REPO, python_env, wait_ready
    from wwmtest import missing

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        missing("nginx (apt-get install nginx-light)")
    root = tmp_path / "root"
    copy_hello(root)
    files = tmp_path / "nginx"
    files.mkdir()
    upstream, port = free_port(), free_port()
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "2",
         "-b", f"127.0.0.1:{upstream}", "wwm.gateway.wsgi:create_app()"], cwd=str(REPO),
        stdin=subprocess.DEVNULL, stdout=open(files / "gunicorn.log", "ab"), stderr=subprocess.STDOUT,
        env=python_env(WWM_ROOT=str(root), WWM_RUNS=str(runs_dir), WWM_CLIENT_HEADER="X-Real-IP"))
    conf = files / "nginx.conf"
    conf.write_text(NGINX_CONF.format(files=files, port=port, upstream=upstream,
                                      user="user root;" if os.geteuid() == 0 else ""))
    proxy = subprocess.Popen([nginx, "-c", str(conf), "-p", str(files)], stdin=subprocess.DEVNULL,
                             stdout=open(files / "stdout.log", "ab"), stderr=subprocess.STDOUT)
    slow = []
    try:
        wait_ready(gunicorn, upstream, "/wwm/", files / "gunicorn.log")
        wait_ready(proxy, port, "/wwm/", files / "error.log")
        slow += slow_bodies(port, 20)  # ten times gunicorn's two threads
        assert describe_takes(port) < 10
    finally:
        for s in slow:
            s.close()
        stop_process(proxy)
        stop_process(gunicorn)
