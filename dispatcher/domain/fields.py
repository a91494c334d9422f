"""Incident fields: one table drives the CLI options, the README and the templates.

Stdlib only: the CLI builds its options from this table at import time, and
`notify --help` must stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FIELDS", "PLANS", "RECORDABLE", "FieldSpec"]

PLANS = ("basic", "pro", "enterprise")  # the customer plans of contacts.toml and the routing rules
# What a person records as done (`notify update ID --record NAME`), so a notice may say it: no template
# claims an action nobody recorded. The customer's two are also true once a notice to them was accepted.
RECORDABLE = ("customer-acknowledged", "customers-notified", "environment-secured")


@dataclass(frozen=True)
class FieldSpec:
    name: str  # key in the template context (incident.<name>)
    option: str  # CLI option
    help: str
    required: bool = False
    default: str = "none"  # as documented
    used_by: str = "all"  # which templates show it


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("customer", "--customer", "Affected customer: an account name or id from contacts.toml, or free text.",
              used_by="security, legal, enterprise (email, customer); all (slack)"),
    FieldSpec("plan", "--plan", "The customer's plan: basic, pro or enterprise.",
              default="the account's plan when --customer is known",
              used_by="internal notices (account line); never a customer notice"),
    FieldSpec("acv", "--acv", "The customer's annual contract value, dollars (e.g. 120000).",
              default="the account's contract value when --customer is known",
              used_by="internal notices (account line); never a customer notice"),
    FieldSpec("reported_by", "--reported-by", "Who reported it; an email address receives the customer notice.",
              default="the account's contact when --customer is known",
              used_by="security, legal, enterprise (email); customer notice recipient"),
    FieldSpec("summary", "--summary", "What happened, in a sentence or two.", required=True,
              default="-", used_by="all"),
    FieldSpec("commander", "--commander", "Incident commander: a person id from contacts.toml or a name.",
              default="the class's commander (security/outage: the on-call primary)", used_by="all (email, sms, voice)"),
    FieldSpec("started", "--started", "When it started, ISO 8601 (e.g. 2026-11-26T03:12:00Z).",
              default="now", used_by="all (email: Reported/Started)"),
    FieldSpec("affected_services", "--affected-services", "Comma-separated services affected.",
              used_by="outage (email, slack, customer)"),
    FieldSpec("impact_scope", "--impact-scope", "Geographic or feature scope of the impact.",
              used_by="outage (email, customer)"),
    FieldSpec("symptoms", "--symptoms", "User-facing symptoms.", used_by="outage (email, customer)"),
    FieldSpec("eta", "--eta", "Estimated time to resolution.", default="not yet known",
              used_by="outage (email, customer)"),
    FieldSpec("next_update", "--next-update", "When the next update is due.",
              default="started + the class's update cadence (security 30 min, outage 15 min)",
              used_by="security, outage (email, slack)"),
)
