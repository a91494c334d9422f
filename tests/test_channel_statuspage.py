"""The status page channels: Statuspage's requests and answers, and the generic status-page webhook."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from channels.statuspage import StatuspageChannel, StatusWebhookChannel
from dispatcher.api import ChannelConfig, Outcome, Reason
from dispatcher.testing import ProviderProxy, Reply
from tests.providers_fixtures import make_address, make_notice, receiver  # noqa: F401

KEY = "sp-key-CANARY-0123456789"
PAGE = "kctbh9vrtdwd"
SERVICES = {"affected_services": ["API", "Billing", "web"]}


@pytest.fixture
def statuspage() -> Iterator[ProviderProxy]:
    with ProviderProxy(("api.statuspage.io",)) as proxy:
        yield proxy


def channel(proxy: ProviderProxy, **settings: str) -> StatuspageChannel:
    return StatuspageChannel(ChannelConfig(url=f"statuspage://{KEY}", sandbox_proxy=proxy.proxy_url,
                                           ca_bundle=proxy.ca_bundle_path, read_timeout=2,
                                           settings={"components": "api=cmpapi000001, web=cmpweb000001", **settings}))


def address():
    return make_address("statuspage", PAGE, person="statuspage:public", role="statuspage:public")


def test_an_update_without_an_earlier_incident_creates_one_with_the_update_status(statuspage) -> None:
    """Step 0's creation never got through: the update opens the page's incident rather than saying nothing."""
    statuspage["api.statuspage.io"].script(Reply(201, {"id": "p31zjtct2jer"}))
    notice = make_notice(kind="update", subject="Service disruption", text="Update #1: failover", fields=SERVICES)
    result = channel(statuspage, update_status="monitoring").send(notice, address())
    (request,) = statuspage.requests
    assert (request.method, request.path) == ("POST", f"/v1/pages/{PAGE}/incidents")
    assert request.json == {"incident": {
        "name": "Service disruption", "status": "monitoring", "body": "Update #1: failover",
        "component_ids": ["cmpapi000001", "cmpweb000001"],
        "components": {"cmpapi000001": "major_outage", "cmpweb000001": "major_outage"}}}
    assert (result.outcome, result.provider_id) == (Outcome.DELIVERED, "p31zjtct2jer")
    assert "no status page component for Billing" in result.detail


def test_an_update_patches_the_incident_created_before(statuspage) -> None:
    statuspage["api.statuspage.io"].script(Reply(200, {"id": "p31zjtct2jer"}))
    notice = make_notice(kind="update", text="Update #2", fields=SERVICES, earlier_id="p31zjtct2jer")
    result = channel(statuspage).send(notice, address())
    (request,) = statuspage.requests
    assert (request.method, request.path) == ("PATCH", f"/v1/pages/{PAGE}/incidents/p31zjtct2jer")
    assert request.json == {"incident": {"status": "identified", "body": "Update #2"}}
    assert request.headers["Authorization"] == f"OAuth {KEY}"
    assert result.outcome is Outcome.DELIVERED and result.provider_id == "p31zjtct2jer"


@pytest.mark.parametrize(("status", "outcome", "reason"), [
    (420, Outcome.FAILED_TRANSIENT, Reason.RATE_LIMITED),  # Statuspage's "enhance your calm"
    (429, Outcome.FAILED_TRANSIENT, Reason.RATE_LIMITED),
    (503, Outcome.FAILED_TRANSIENT, Reason.SERVER_ERROR),
    (401, Outcome.FAILED_PERMANENT, Reason.AUTH),
    (404, Outcome.FAILED_PERMANENT, Reason.BAD_ADDRESS),
    (422, Outcome.FAILED_PERMANENT, Reason.BAD_REQUEST),
])
def test_statuspage_answers_are_classified_and_the_key_never_shown(statuspage, status, outcome, reason) -> None:
    statuspage["api.statuspage.io"].script(Reply(status, {"error": f"rejected {KEY}"}))
    result = channel(statuspage).send(make_notice(fields=SERVICES), address())
    assert (result.outcome, result.reason, result.status) == (outcome, reason, status)
    assert KEY not in result.detail


def test_settings_problems_are_named_without_the_key() -> None:
    broken = StatuspageChannel(ChannelConfig(url=f"https://{KEY}@api.statuspage.io",
                                             settings={"components": "api=cmp1,billing"}))
    problems = broken.problems()
    assert "statuspage url must be statuspage://API_KEY" in problems
    assert any("'billing' is not service=component_id" in p for p in problems)
    assert all(KEY not in p for p in problems)
    assert StatuspageChannel(ChannelConfig()).problems() == ["statuspage: no url configured"]
    assert StatuspageChannel.target_problem("not a page!") is not None and StatuspageChannel.target_problem(PAGE) is None


def test_the_statushook_says_create_update_resolve_with_the_id_it_was_answered(receiver) -> None:
    receiver.script(Reply(201, {"id": "status-42"}), Reply(200, {}), Reply(200, {}))
    hook = StatusWebhookChannel(ChannelConfig(url=f"json://127.0.0.1:{receiver.port}/status", read_timeout=2,
                                              settings={"components": "api=cmpapi000001"}))
    target = make_address("statushook", "public", person="statushook:public")
    created = hook.send(make_notice(subject="Service disruption", text="Investigating", fields=SERVICES,
                                    dedup_key="OUT-2026-001/0/statushook:public"), target)
    updated = hook.send(make_notice(kind="update", text="Update #1", fields=SERVICES, earlier_id=created.provider_id,
                                    dedup_key="OUT-2026-001/update-1/statushook:public"), target)
    hook.send(make_notice(kind="resolved", text="Resolved", fields=SERVICES, earlier_id=created.provider_id,
                          dedup_key="OUT-2026-001/resolved/statushook:public"), target)
    bodies = [r.json for r in receiver.requests]
    assert [(b["event"], b["status"], b["earlier_id"]) for b in bodies] == [
        ("create", "investigating", None), ("update", "identified", "status-42"), ("resolve", "resolved", "status-42")]
    assert bodies[0]["components"] == {"cmpapi000001": "major_outage"}
    assert bodies[2]["components"] == {"cmpapi000001": "operational"}
    assert bodies[0]["services"] == ["API", "Billing", "web"] and bodies[0]["schema"] == 1
    assert len({r.headers["Idempotency-Key"] for r in receiver.requests}) == 3
    assert (created.provider_id, updated.provider_id) == ("status-42", "status-42")
