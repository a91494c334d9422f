"""The echo channel against notify's channel contract (run with `pytest -p dispatcher.testing.contract`)."""

from dispatcher.testing.contract import ChannelContract


class TestEchoContract(ChannelContract):
    channel = "echo"
    target = "billing"
