# The two commands of the README: `make demo` and `make test`. Each installs what it needs first.
.PHONY: setup demo test bench cgi

setup:
	bash scripts/setup.sh

demo: setup
	wwm demo

test: setup
	python3 -m pytest -q tests

bench: setup
	python3 bench/lib_roundtrip.py --n 2000
	python3 bench/gateway.py
	python3 bench/gym.py --quick

# Rebuild the one-file CGI gateway from wwm/protocol and wwm/gateway (a test checks it is current).
cgi:
	python3 -m wwm.gateway.amalgamate
