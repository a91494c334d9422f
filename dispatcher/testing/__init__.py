"""Test helpers shipped with notify: local stand-ins for the SaaS providers channels talk to.

``RecordingServer`` records HTTP requests and answers from a script;
``ProviderProxy`` is an HTTPS_PROXY that impersonates api.twilio.com,
hooks.slack.com, slack.com and events.pagerduty.com with a throwaway CA.
See :mod:`dispatcher.testing.proxy` for a usage example.
"""

from dispatcher.testing.providers import (
    HANG,
    Recorded,
    Recorder,
    RecordingServer,
    Reply,
)
from dispatcher.testing.proxy import PROVIDER_HOSTS, ProviderProxy

__all__ = ["HANG", "PROVIDER_HOSTS", "ProviderProxy", "Recorded", "Recorder", "RecordingServer", "Reply"]
