"""Which client socket.io packets channels/socketio/server.py drops with one log line
instead of letting python-socketio raise (and Engine.IO log a traceback)."""
import pytest
from socketio.packet import Packet

from channels.socketio.server import malformed_packet


@pytest.mark.parametrize("data", [
    '2["user_uttered",{"message":"oi","session_id":"s"}]', '2["session_request"]', '21["a",{}]',
    "0", '0{"token":"x"}', "1", "3[]", '51-["a",{"_placeholder":true,"num":0}]',
])
def test_what_clients_send_passes(data):
    assert malformed_packet(Packet, data) is None


@pytest.mark.parametrize("data, why", [
    ("2", "an event must be"),                      # event without data
    ("2[", "not a socket.io packet"),               # bad JSON
    ("2[[1]]", "an event must be"),                 # a list as event name
    ("2[1]", "an event must be"),
    ('2["a",1,2]', "an event must be"),             # more arguments than our handlers take
    ('2["connect"]', "reserved"),                   # would reach our connect handler
    ("2" + "[" * 3000 + "]" * 3000, "not a socket.io packet (RecursionError)"),
    ("4{}", "not sent by clients"),
    ("9", "not sent by clients"),
])
def test_malformed_packets_are_named(data, why):
    assert why in malformed_packet(Packet, data)
