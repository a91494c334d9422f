"""The customer account's facts an incident keeps: plan and contract value, checked once here.

Triage reads them to route (an enterprise plan, a contract value over $50k);
the internal notices name them in an account line, whatever class won, so a
security report about an Enterprise customer stays security and still tells
the team who the customer is. The success manager comes from the known
account in contacts.toml, never from input: it is named, not paged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from .fields import PLANS

if TYPE_CHECKING:  # the loaded configuration, read here by attribute only
    from ..config.directory import Directory

__all__ = ["account_context", "checked_acv", "checked_plan", "stated_plan"]

# "They are on the enterprise plan", "a Pro customer", "our Basic subscription": a plan the report states.
# Not "enterprise" alone (an enterprise feature, enterprise-grade): the plan word must name a plan.
_STATED_PLAN = re.compile(r"\b(basic|pro|enterprise)[ -](?:plan|tier|subscription|account|customer)s?\b", re.I)


def checked_plan(value: Any) -> str | None:
    """A plan as given (any case) -> "basic" | "pro" | "enterprise"; None when not given; InputError("plan") else."""
    if value in (None, ""):
        return None
    plan = str(value).strip().lower()
    if plan not in PLANS:
        raise InputError("plan", f"{str(value)[:40]!r} is not a plan: use {', '.join(PLANS)}")
    return plan


def stated_plan(text: str) -> str | None:
    """The plan a report's text states ("they are on the enterprise plan" -> "enterprise"), when it names one
    plan only; None when it names none or several."""
    plans = {match.lower() for match in _STATED_PLAN.findall(text or "")}
    return plans.pop() if len(plans) == 1 else None


def checked_acv(value: Any) -> float | int | None:
    """A contract value in dollars (a number, or text like "120000", "$120,000") -> a number; InputError("acv")."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise InputError("acv", "expected a number of dollars, got a boolean")
    text = str(value).strip().replace(",", "").removeprefix("$")
    try:
        number = float(text)
    except ValueError:
        raise InputError("acv", f"{str(value)[:40]!r} is not a number of dollars (e.g. 120000)") from None
    if not math.isfinite(number) or number < 0:
        raise InputError("acv", f"{str(value)[:40]!r} is not a contract value: expected 0 or more dollars")
    return int(number) if number.is_integer() else number


def account_context(fields: Mapping[str, Any], account_id: str | None, directory: Directory) -> dict[str, Any] | None:
    """`incident.account` for the templates: name, plan, contract value, success manager; None when nothing is known.

    Plan and contract value given with the report win over the account's (as triage reads them);
    a contract value of 0 is "not known", as contacts.toml's default is.
    """
    known = directory.customers.get(account_id) if account_id else None
    plan = fields.get("plan") or (known.plan if known else None)
    acv = fields.get("acv") if fields.get("acv") is not None else (known.annual_contract_value if known else None)
    manager = directory.people.get(known.success_manager) if known and known.success_manager else None
    if not (plan or acv or manager):
        return None
    return {"name": fields.get("customer") or (known.name if known else None), "plan": plan,
            "contract_value": f"${acv:,.0f}" if acv else None,
            "success_manager": manager.name if manager else None,
            "success_manager_contact": manager.email if manager else None}
