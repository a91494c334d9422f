"""Each page of a ladder is its own PagerDuty incident, on the service its slot or person names."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from dispatcher.testing.providers import Reply

from .helpers import run

DEFAULT_KEY = "DEFAULTSERV1CEKEY0123456789abcde"
CTO_KEY = "CT0SERV1CEKEY0123456789abcdef012"
SLOT_KEY = "ESCA1AT10NSL0TKEY0123456789abcde"
TRIGGER = ["security", "--incident", "SEC-2024-001", "--customer", "Acme Corp", "--summary", "Unusual admin logins"]


def with_routing_keys(config_dir: Path) -> None:
    """The CTO pages into their own service, the escalation slot into the escalation service."""
    contacts = config_dir / "contacts.toml"
    text = contacts.read_text()
    text = text.replace('[people.cto]\nname = "CTO"\n', f'[people.cto]\nname = "CTO"\npagerduty_routing_key = "{CTO_KEY}"\n')
    text = text.replace('[rotation.slots.escalation]\n',
                        f'[rotation.slots.escalation]\npagerduty_routing_key = "{SLOT_KEY}"\n')
    contacts.write_text(text)


def test_every_page_of_the_ladder_has_its_own_dedup_key_and_service(providers, config_dir, rotation_week,
                                                                     monkeypatch) -> None:
    smtp, proxy, _ = providers
    with_routing_keys(config_dir)
    monkeypatch.setenv("NOTIFY_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("NOTIFY_PHONE_URL", f"pagerduty://{DEFAULT_KEY}@restApiKey")
    proxy["events.pagerduty.com"].script(Reply(202, {"status": "success", "message": "Event processed"}))
    assert run("check").exit_code == 0
    assert run(*TRIGGER).exit_code == 0
    t0 = datetime.fromisoformat(json.loads(run("status", "SEC-2024-001", "--json").stdout)["incident"]["started"])
    run("worker", "--once", "--yes", "--at", (t0 + timedelta(minutes=50)).isoformat())

    sent = proxy["events.pagerduty.com"].requests
    events = {r.json["dedup_key"]: r.json["routing_key"] for r in sent
              if r.json["dedup_key"].split("/")[1].isdigit()}
    assert events == {
        f"SEC-2024-001/0/{rotation_week.primary}": DEFAULT_KEY,  # step 0: the primary
        "SEC-2024-001/1/cto": CTO_KEY,  # step 1 (+15 min): the CTO, on their own service
        "SEC-2024-001/1/ceo": DEFAULT_KEY,
        f"SEC-2024-001/2/{rotation_week.secondary}": DEFAULT_KEY,  # escalation 1: the secondary
        "SEC-2024-001/3/vp-customer-success": SLOT_KEY,  # escalation 2: whoever holds the escalation slot
        "SEC-2024-001/4/cto": CTO_KEY,  # escalation 3: the CTO again, a page of its own
    }
    # The commander's update reminder and overdue notice are pages of their own too, keyed by their timer.
    timers = sorted(r.json["dedup_key"].split("/")[1].split("-")[0] for r in sent if r.json["dedup_key"] not in events)
    assert timers == ["overdue", "overdue", "reminder"]
    assert len({r.json["dedup_key"] for r in sent}) == len(sent)  # no two pages merge into one incident
    log = run("log", "--incident", "SEC-2024-001", "--json")
    assert CTO_KEY not in log.stdout and SLOT_KEY not in log.stdout

