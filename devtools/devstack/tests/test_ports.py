"""Ports for the processes a stack starts: never one an outgoing connection may take meanwhile."""

from __future__ import annotations

import socket

from devstack.ports import ephemeral_ports, free_port


def test_a_free_port_is_outside_the_ephemeral_range_bindable_and_never_given_twice() -> None:
    low, high = ephemeral_ports()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    for port in ports:
        assert not low <= port <= high
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))  # nothing holds it
