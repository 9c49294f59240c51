"""Clients: connect to Minds and Worlds, local or remote, and run them together."""
from wwm.client.api import describe, run_episode
from wwm.client.client import Result, Run, Server, connect

__all__ = ["connect", "Server", "Run", "Result", "run_episode", "describe"]
