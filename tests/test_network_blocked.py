"""Proof that tests cannot reach the network: pytest-socket (--disable-socket in pyproject) blocks it."""

import socket
import urllib.request

import pytest
from pytest_socket import SocketBlockedError


def test_sockets_are_disabled_by_default():
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def test_an_http_request_is_blocked_before_any_traffic():
    # A loopback address with nothing listening: even if blocking failed, no packet would leave the machine.
    with pytest.raises(SocketBlockedError):
        urllib.request.urlopen("http://127.0.0.1:9/", timeout=1)
