"""Realistic render contexts per incident class, for `notify check` and tests.

``sample_context`` gives the full context a template sees (the keys the
README documents under "Templates"); ``sparse_context`` empties every optional
field, as a fresh webhook would, so a template that prints "None" or trips
over a missing value is found before it pages anyone. A class without an
entry here (one a user adds) gets a neutral sample of the same shape.

Every context carries ``notice``: which lifecycle notice is being rendered
(``kind``: initial, update, reminder, overdue, resolved, escalation, ack) and its
facts, each None when the kind has no such fact: ``message`` (the update or
resolution text), ``by`` (who sent it), ``number`` (the update's sequence
number), ``due`` (when that update is or was due), ``stage`` (the escalation
stage paged), ``at`` (when the event happened: the resolution time for
``resolved``, the ack's for ``ack``), ``duration`` (start to resolution, for ``resolved``) and ``via``
(how an ack came: "SMS", "link", "the CLI"...).
"""

from __future__ import annotations

from typing import Any

from ..domain.incident import NOTICE_KEYS, NOTICE_KINDS, RECORDABLE

__all__ = ["NOTICE_KINDS", "NOTICE_KEYS", "sample_context", "sparse_context"]


_UPDATE_DUE = "2026-11-26 03:30 UTC"
_STAGE = "Escalation 1: on-call secondary"
# The facts each kind of notice carries in a sample; every other key is None.
_NOTICES: dict[str, dict[str, Any]] = {
    "initial": {},
    "update": {"message": "Root cause identified; fix deploying", "by": "Support Manager A", "number": 2,
               "due": _UPDATE_DUE},
    "reminder": {"number": 2, "due": _UPDATE_DUE},
    "overdue": {"number": 2, "due": _UPDATE_DUE, "stage": _STAGE},
    "resolved": {"message": "Fix deployed; error rates back to normal", "by": "Dana Reyes",
                 "at": "2026-11-26 21:05 UTC", "duration": "1 hour 45 minutes"},
    "escalation": {"stage": _STAGE, "at": "2026-11-26 19:35 UTC"},
    "ack": {"by": "Support Manager A", "via": "SMS", "at": "2026-11-26 19:27 UTC"},
    "target": {"due": "2026-11-26 23:20 UTC"},
    "breach": {"due": "2026-11-26 23:20 UTC", "stage": "Escalation 2: rotation:escalation, resolution target passed"},
    "review": {"message": "Root cause analysis due", "due": "2026-11-28 21:05 UTC",
               "link": "https://survey.teamflow.example/csat"},
    "follow-up": {"link": "https://survey.teamflow.example/csat"},
    "reclassify": {"previous": "Technical Issue", "by": "Dana Reyes", "at": "2026-11-26 19:40 UTC"},
}

_SAMPLES: dict[str, dict[str, Any]] = {
    "security": {
        "id": "SEC-2026-001",
        "title": "Security Incident",
        "priority": "Critical",
        "tier": "immediate",
        "response_sla": "15 minutes",
        "update_every": "30 minutes",
        "customer": "Acme Corp",
        "reported_by": "jane.doe@acme.example",
        "summary": "Acme reports that an unknown IP address exported their full project list through the API overnight.",
        "affected_services": ["Public API", "Project export"],
        "impact_scope": "One customer account (Acme Corp)",
        "symptoms": "Unexpected bulk export in the account audit log",
        "recipient": ("Security incident list", "list:security-incident"),
    },
    "outage": {
        "id": "OUT-2026-001",
        "title": "Service Outage",
        "priority": "High",
        "tier": "immediate",
        "response_sla": "15 minutes",
        "update_every": "15 minutes",
        "customer": None,
        "reported_by": "alertmanager",
        "summary": "API error rate above 50% in us-east-1 for 5 minutes.",
        "affected_services": ["Public API", "Web dashboard"],
        "impact_scope": "All customers in North America",
        "symptoms": "Requests fail with HTTP 503; dashboards do not load",
        "recipient": ("Outage response list", "list:outage-response"),
    },
    "legal": {
        "id": "LEG-2026-001",
        "title": "Legal/Compliance Issue",
        "priority": "Critical",
        "tier": "immediate",
        "response_sla": "30 minutes",
        "update_every": None,
        "customer": "Globex GmbH",
        "reported_by": "dpo@globex.example",
        "summary": "Globex requests deletion of all personal data under GDPR Article 17 and mentions possible legal action.",
        "affected_services": [],
        "impact_scope": "One customer account (Globex GmbH)",
        "symptoms": None,
        "recipient": ("Legal emergency list", "list:legal-emergency"),
    },
    "enterprise": {
        "id": "ENT-2026-001",
        "title": "Enterprise Customer Issue",
        "priority": "High",
        "tier": "priority",
        "response_sla": "1 hour",
        "update_every": "1 hour",
        "customer": "Initech Inc.",
        "reported_by": "cto@initech.example",
        "summary": "SSO logins fail for all Initech users since this morning's release; they cite their SLA.",
        "affected_services": ["SSO login"],
        "impact_scope": "All Initech users",
        "symptoms": "SAML assertion rejected with 'invalid audience'",
        "recipient": ("Customer success", "list:customer-success"),
    },
    "financial": {
        "id": "FIN-2026-001",
        "title": "Financial Impact",
        "priority": "High",
        "tier": "priority",
        "response_sla": "1 hour",
        "update_every": None,
        "customer": "Hooli Labs",
        "reported_by": "admin@hooli.example",
        "summary": "Hooli Labs was charged twice for its renewal after a payment processor timeout and asks for a $1,200 refund; "
        "three other customers renewed today report the same duplicate charge.",
        "affected_services": ["Billing", "Card payments"],
        "impact_scope": "Customers whose renewal ran on 2026-11-26",
        "symptoms": "Two identical card charges for one renewal invoice",
        "recipient": ("Billing Manager", "role:billing-manager"),
    },
    "high-value": {
        "id": "HVA-2026-001",
        "title": "High-Value Account",
        "priority": "High",
        "tier": "priority",
        "response_sla": "1 hour",
        "update_every": None,
        "customer": "Globex Corporation",
        "reported_by": "it-ops@globex.example",
        "summary": "Globex (Fortune 500, $480k a year) says it is trialling a competitor after repeated calendar sync delays "
        "and wants a call with management before its January renewal.",
        "affected_services": ["Calendar sync"],
        "impact_scope": "Globex Corporation account",
        "symptoms": "Calendar changes take hours to appear in TeamFlow",
        "recipient": ("Globex success manager", "success-manager"),
    },
    "technical": {
        "id": "TEC-2026-001",
        "title": "Technical Escalation",
        "priority": "Medium",
        "tier": "standard",
        "response_sla": "4 hours",
        "update_every": None,
        "customer": "Initech",
        "reported_by": "support@initech.example",
        "summary": "Jira issue status stops syncing to TeamFlow after about 200 updates an hour; two fixes over 36 hours "
        "did not help and the Jira API answers HTTP 429.",
        "affected_services": ["Jira integration"],
        "impact_scope": "Initech workspace",
        "symptoms": "Issue status in TeamFlow lags Jira by several hours",
        "recipient": ("Senior Technical Specialist", "role:senior-technical-specialist"),
    },
    "satisfaction": {
        "id": "SAT-2026-001",
        "title": "Customer Satisfaction",
        "priority": "Medium",
        "tier": "standard",
        "response_sla": "4 hours",
        "update_every": None,
        "customer": "Initech",
        "reported_by": "support@initech.example",
        "summary": "Initech filed a formal complaint after three tickets were reopened without a fix, asks to speak "
        "with a manager and posted about it on LinkedIn.",
        "affected_services": [],
        "impact_scope": "Initech account (Pro plan)",
        "symptoms": None,
        "recipient": ("Support Manager", "role:support-manager"),
    },
}


def sample_context(incident_class: str, kind: str = "initial") -> dict[str, Any]:
    """A full, realistic render context for ``incident_class`` (any class name works) and notice ``kind``."""
    if kind not in _NOTICES:
        raise ValueError(f"unknown notice kind {kind!r}; expected one of {NOTICE_KINDS}")
    sample = _SAMPLES.get(incident_class) or _generic_sample(incident_class)
    display, role = sample["recipient"]
    incident = {k: v for k, v in sample.items() if k != "recipient"}
    incident.update(
        {
            "class": incident_class,
            "started": "2026-11-26 19:20 UTC",
            "commander": "Dana Reyes",
            "commander_contact": "+14155550188 / dana.reyes@teamflow.com",
            "eta": "2026-11-26 21:00 UTC",
            "next_update": "2026-11-26 19:50 UTC",
            "drill": False,
            # The account line's facts: as contacts.toml's accounts give them (sparse_context: None).
            "account": {"name": incident["customer"], "plan": "enterprise", "contract_value": "$120,000",
                        "success_manager": "Success Manager A", "success_manager_contact": "csm-a@teamflow.example"},
            # What the delivery log and the people recorded (see domain.incident.recorded_facts): all of it here,
            # none of it in the sparse context, so a template is checked both ways.
            "status_page": "update requested",
            "recorded": dict.fromkeys((name.replace("-", "_") for name in RECORDABLE), True),
        }
    )
    return {
        "incident": incident,
        "step": {"index": 0, "name": "Immediate actions"},
        "recipient": {"display": display, "role": role},
        "notice": _notice(kind, **_NOTICES[kind]),
    }


def _notice(kind: str, **facts: Any) -> dict[str, Any]:
    """A ``notice`` mapping with every key present: the given facts, None for the rest."""
    return {key: facts.get(key) for key in NOTICE_KEYS} | {"kind": kind}


def _generic_sample(incident_class: str) -> dict[str, Any]:
    """A sample for a class added after this module: same shape, neutral values."""
    return {
        "id": f"{incident_class[:3].upper() or 'INC'}-2026-001",
        "title": f"{incident_class.replace('-', ' ').title()} Escalation",
        "priority": "High",
        "tier": "priority",
        "response_sla": "1 hour",
        "update_every": None,
        "customer": "Acme Corp",
        "reported_by": "jane.doe@acme.example",
        "summary": "Customer reports a problem that needs escalation.",
        "affected_services": ["Web dashboard"],
        "impact_scope": "One customer account (Acme Corp)",
        "symptoms": "Reported by the customer",
        "recipient": (f"{incident_class} escalation list", f"list:{incident_class}"),
    }


def sparse_context(context: dict[str, Any]) -> dict[str, Any]:
    """The same context with every optional field empty, as a fresh webhook would give.

    The notice keeps only its kind: a template must read well without a message,
    a sender, a number, a due time, a stage or a duration.
    """
    incident = dict(context["incident"])
    incident.update(
        customer=None, reported_by=None, summary="", affected_services=[], impact_scope=None,
        symptoms=None, eta=None, next_update=None, update_every=None, drill=True, account=None, status_page=None,
        recorded={name: False for name in incident.get("recorded", {})},
    )
    notice = _notice((context.get("notice") or {}).get("kind") or "initial")
    return {**context, "incident": incident, "notice": notice}
