import socket

import pytest


def find_free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for torchrun's rendezvous in tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    return find_free_port()


@pytest.fixture(scope='session')
def free_port_factory():
    """``find_free_port`` for fixtures wider than one test."""
    return find_free_port
