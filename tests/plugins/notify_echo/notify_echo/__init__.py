"""The `echo` channel: each notice posted as JSON to the URL in NOTIFY_ECHO_URL.

A person is reached on it at their `addresses.echo` in contacts.toml. It owns a table of rooms too, as
Slack owns its channels: `[echo.some-room]` with `channel = "some-room"` is a destination, and a policy
audience `echo:some-room` posts there. NOTIFY_ECHO_TOKEN, when set, goes in an Authorization header
(ChannelConfig.settings["token"]): the NOTIFY_ECHO_* namespace.
Standard library only, importing nothing of notify but its plugin contract.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.request

from dispatcher.api import Capabilities, ChannelConfig, DeliveryResult, Reason, TargetKind, mask_secrets

__all__ = ["EchoChannel"]


class EchoChannel:
    name = "echo"
    # Short texts: the core renders the `sms` template family for it (step pages, `resolved-sms`...).
    # `destinations`: contacts.toml's [echo.ID] tables are its rooms (see target_problem).
    capabilities = Capabilities(target=TargetKind.URL, max_length=1600, template="sms", destinations="echo")

    @staticmethod
    def target_problem(target: str, group: bool = False) -> str | None:
        """A room is a lower-case name (checked when contacts.toml loads); a person's address is free-form."""
        if group and not re.fullmatch(r"[a-z0-9][a-z0-9-]*", target):
            return f"{target!r} is not an echo room (lower-case letters, digits and dashes)"
        return None

    def __init__(self, config: ChannelConfig) -> None:
        self.config = config

    def configured(self) -> bool:
        return bool(self.config.url)

    def problems(self) -> list[str]:
        url = self.config.url or ""
        if url and not url.startswith(("http://", "https://")):
            return [f"NOTIFY_ECHO_URL must be an http(s) URL, got {mask_secrets(url, (url,))}"]
        return []

    def send(self, notice, address) -> DeliveryResult:
        body = json.dumps({"incident": notice.incident_id, "step": notice.step, "to": address.target,
                           "subject": notice.subject, "text": notice.text, "drill": notice.drill}).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": notice.dedup_key or ""}
        if "token" in self.config.settings:
            headers["Authorization"] = f"Bearer {self.config.settings['token']}"
        request = urllib.request.Request(self.config.url or "", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.read_timeout) as answer:
                return DeliveryResult.delivered(status=answer.status)
        except urllib.error.HTTPError as exc:
            if exc.code == 429 or exc.code >= 500:
                return DeliveryResult.transient(Reason.SERVER_ERROR, f"HTTP {exc.code}", status=exc.code)
            reason = Reason.AUTH if exc.code in (401, 403) else Reason.BAD_REQUEST
            return DeliveryResult.permanent(reason, f"HTTP {exc.code}", status=exc.code)
        except (urllib.error.URLError, socket.timeout, ConnectionError) as exc:
            return DeliveryResult.transient(Reason.CONNECTION, type(exc).__name__)

    def close(self) -> None:
        pass
