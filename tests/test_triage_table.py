"""The shipped routing.toml against a table of reports as customers, agents and monitors write them.

Every criterion of the TeamFlow escalation policy ("Escalation Criteria") has
at least one case whose winning rule names that criterion, so each rule is
shown to implement what it claims. The rest are the cases that decide whether
triage can be trusted: tier precedence, thresholds on both sides, alerts with
labels, negations (and the uncertainty that is not one), weak and unmatched
reports, and phrases that look like a criterion but are not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dispatcher.config.directory import load_directory
from dispatcher.config.policy import load_policy
from dispatcher.config.routing import load_routing
from dispatcher.domain.triage import Report, triage

REPO = Path(__file__).resolve().parent.parent
directory = load_directory(REPO / "contacts.toml")
policy = load_policy(REPO / "policy.toml", directory)
rules = load_routing(REPO / "routing.toml", policy)

TIER = {"security": "immediate", "outage": "immediate", "legal": "immediate",
        "enterprise": "priority", "financial": "priority", "high-value": "priority",
        "technical": "standard", "satisfaction": "standard"}
DEFAULT = None  # `rule` of a case that must match nothing and fall to the default class


@dataclass(frozen=True)
class Case:
    id: str
    report: Report
    klass: str
    rule: str | None  # the winning rule's id; DEFAULT: nothing matched
    criterion: str | None = None  # the seed's wording the winning rule must name
    needs_review: bool = False
    words: tuple[str, ...] = ()  # must be among the winner's matched words
    also: tuple[str, ...] = ()  # must be in result.also
    not_also: tuple[str, ...] = ()  # must NOT be in result.also
    negated: tuple[str, ...] = ()  # rule ids a negation must have suppressed
    extra: dict = field(default_factory=dict)
    hypothetical: tuple[str, ...] = ()  # rule ids a hypothetical must have suppressed


def case(id: str, text: str = "", *, klass: str, rule: str | None, criterion: str | None = None,
         needs_review: bool = False, words: tuple[str, ...] = (), also: tuple[str, ...] = (),
         not_also: tuple[str, ...] = (), negated: tuple[str, ...] = (), hypothetical: tuple[str, ...] = (),
         **report) -> Case:
    return Case(id, Report(text=text, **report), klass, rule, criterion, needs_review, words, also, not_also,
                negated, hypothetical=hypothetical)


CASES = [
    # ------------------------------------------------------------------ Security & Data Incidents
    case("security-breach-evidence",
         "Customer says their data was exposed after an unauthorized login", plan="pro",
         klass="security", rule="security-breach",
         criterion="Suspected data breach or unauthorized access", words=("unauthorized login",)),
    case("security-breach-we-were-hacked",
         "I think our workspace was hacked. There are projects created overnight by a user none of us "
         "recognise and our owner account's email address was changed.", plan="basic",
         klass="security", rule="security-breach", criterion="Suspected data breach or unauthorized access"),
    case("security-vulnerability-researcher",
         "Hello, I'm an independent security researcher. I found a stored XSS in the task comment field: "
         "a comment containing an <img onerror> payload runs script for every viewer. Full PoC attached; "
         "what is your disclosure process?",
         klass="security", rule="security-vulnerability",
         criterion="Customer reports potential security vulnerability"),
    case("security-malicious-brute-force",
         "Our admins are getting lockout emails every few minutes. Looks like someone is brute-forcing "
         "logins on our team's accounts from a few hundred different IPs.", plan="pro",
         klass="security", rule="security-malicious-activity",
         criterion="Malicious activity detected on customer accounts"),
    case("security-data-loss-files-missing",
         "After this morning's sync half of our project attachments are missing and the spreadsheets that "
         "are left won't open, Excel says they are corrupted. We have no other copy of these files.",
         plan="pro",
         klass="security", rule="security-data-loss",
         criterion="Data loss or corruption affecting customer data"),
    case("security-data-loss-data-was-lost",
         "All comment history on our client projects was lost after yesterday's migration - our data was "
         "lost and we need it restored.", plan="basic",
         klass="security", rule="security-data-loss",
         criterion="Data loss or corruption affecting customer data"),
    case("security-compliance-hipaa",
         "One of our clinics could see another clinic's patient notes in the shared board view. For us this "
         "is a HIPAA violation and we have to report it.", plan="pro",
         klass="security", rule="security-compliance-violation",
         criterion="Compliance violations (GDPR, HIPAA, SOC 2)"),

    # ------------------------------------------------------------------ Service Outages
    case("outage-platform-teamflow-down",
         "TeamFlow is down for our whole company, the web app just shows a blank page after login and "
         "the mobile app spins forever.", plan="pro",
         klass="outage", rule="outage-platform", criterion="Platform-wide service disruption"),
    case("outage-api-502s",
         "Since 09:40 UTC every request to api.teamflow.com/v2/tasks gets 502 Bad Gateway. Two of our "
         "partners using your API report the same.", plan="pro", customers_affected=3,
         klass="outage", rule="outage-api", criterion="API downtime affecting multiple customers"),
    case("outage-infrastructure-alert",
         "[FIRING:1] prod-eu load balancer failed health checks on 4/4 targets; kubernetes nodes in "
         "eu-west-1b NotReady",
         klass="outage", rule="outage-infrastructure", criterion="Critical infrastructure failures"),
    case("outage-database-connect-error",
         "Every page shows 'Error: could not connect to database' since about 10 minutes ago, for all "
         "of our users.", plan="basic",
         klass="outage", rule="outage-database", criterion="Database connectivity issues"),
    case("outage-cdn-cloudflare",
         "Images and file previews aren't loading for anyone in our Frankfurt office, the browser shows a "
         "Cloudflare 522 page for files.teamflow.com.", plan="pro",
         klass="outage", rule="outage-cdn-hosting", criterion="CDN or hosting provider problems"),

    # ------------------------------------------------------------------ Legal & Compliance
    case("legal-threat-lawyers",
         "This is the third invoice with the wrong amount. If it is not corrected by Friday our lawyers "
         "will be in touch and we will take legal action.", plan="pro",
         klass="legal", rule="legal-threat", criterion="Legal threats or litigation mentions"),
    case("legal-regulatory-inquiry",
         "We have received a regulatory inquiry from the state insurance commissioner about where our "
         "policyholder documents are stored. Can you send your data residency documentation?", plan="pro",
         klass="legal", rule="legal-regulatory-inquiry", criterion="Regulatory compliance inquiries"),
    case("legal-subpoena",
         "Attached is a subpoena issued by the Superior Court of California requesting all records for "
         "the workspace acme-legal. Please forward this to your legal department.",
         klass="legal", rule="legal-subpoena", criterion="Subpoenas or legal document requests"),
    case("legal-gdpr-right-to-be-forgotten",
         "Under the GDPR I am exercising my right to be forgotten. Please delete all of my personal data "
         "from TeamFlow, including the backups, and confirm in writing.", plan="basic",
         klass="legal", rule="legal-gdpr-erasure",
         criterion='Data deletion requests under GDPR "Right to be Forgotten"'),
    case("legal-ip-copyright",
         "A template in your public gallery is a copy of our paid course material. This is copyright "
         "infringement; please remove it.",
         klass="legal", rule="legal-intellectual-property", criterion="Intellectual property disputes"),

    # ------------------------------------------------------------------ Enterprise Customer Issues
    case("enterprise-any-issue-pdf-export",
         "Exporting a Gantt chart to PDF cuts off everything after March.", plan="enterprise",
         klass="enterprise", rule="enterprise-any-issue", criterion="Any issue affecting Enterprise customers"),
    case("enterprise-sla-breach",
         "We had over six hours of downtime this month against a 99.9% commitment in our contract. That "
         "is an SLA breach and we expect the service credits.", plan="enterprise",
         klass="enterprise", rule="enterprise-sla-violation", criterion="SLA violations for Enterprise accounts"),
    case("enterprise-success-manager",
         "Our CSM left in May and nobody has been in touch since. Can we get a dedicated success manager "
         "assigned before our renewal?", plan="enterprise",
         klass="enterprise", rule="enterprise-success-manager", criterion="Dedicated success manager requests"),
    case("enterprise-custom-integration",
         "Our custom integration with SAP stopped pushing purchase orders into TeamFlow after your last "
         "release.", plan="enterprise",
         klass="enterprise", rule="enterprise-custom-integration", criterion="Custom integration problems"),
    case("enterprise-white-label",
         "The white-label deployment of our client portal shows the TeamFlow logo again since the update.",
         plan="enterprise",
         klass="enterprise", rule="enterprise-white-label", criterion="White-label deployment issues"),

    # ------------------------------------------------------------------ Financial Impact
    case("financial-billing-errors-multiple-customers",
         "March renewal invoices went out with the wrong VAT rate; 14 customers have written in so far.",
         customers_affected=14,
         klass="financial", rule="financial-billing-errors-multiple",
         criterion="Billing system errors affecting multiple customers", also=("role:finance-director",)),
    case("financial-billing-errors-multiple-in-text",
         "Heads up from the billing queue: several customers were double charged on the 1st, we have "
         "nine tickets about it already.",
         klass="financial", rule="financial-billing-errors-multiple-text",
         criterion="Billing system errors affecting multiple customers"),
    case("financial-payment-processor",
         "Checkout is failing for every new signup: the card form spins and then says 'payment could not "
         "be processed', for valid cards too.",
         klass="financial", rule="financial-payment-processor", criterion="Payment processor failures"),
    case("financial-large-refund-evidence",
         "Please refund our annual plan, 4800 dollars", amount=4800, plan="pro",
         klass="financial", rule="financial-large-refund", criterion="Refund requests over $1,000",
         also=("role:finance-director",)),
    case("financial-revenue-recognition",
         "Finance here: annual prepaid plans are being booked in full in the month of payment instead of "
         "ratably. Revenue recognition for Q2 is off by about $310k.",
         klass="financial", rule="financial-revenue-recognition", criterion="Revenue recognition issues"),
    case("financial-contract-modification",
         "We'd like to amend our contract to move from annual to quarterly payments and reduce the seat "
         "count from 120 to 90 at the next term.", plan="pro",
         klass="financial", rule="financial-contract-modification", criterion="Contract modification requests"),

    # ------------------------------------------------------------------ High-Value Accounts
    case("high-value-acv-slow-dashboard",
         "The reporting dashboard has been really slow to load since Monday.", plan="pro", acv=85000,
         klass="high-value", rule="high-value-acv", criterion="Customers with >$50k annual contract value"),
    case("high-value-fortune-500",
         "Our users can't attach files bigger than 10 MB to tasks.", plan="pro", fortune500=True,
         klass="high-value", rule="high-value-fortune-500", criterion="Fortune 500 company issues"),
    case("high-value-churn",
         "To be honest we are considering switching tools when our renewal comes up in August; the team "
         "has stopped using half the features.", plan="pro",
         klass="high-value", rule="high-value-churn", criterion="Potential churn indicators for major accounts"),
    case("high-value-competitive-pressure",
         "Monday.com has offered us a better deal for all 300 users. Is there any room on your pricing?",
         plan="pro",
         klass="high-value", rule="high-value-competitive-pressure",
         criterion="Competitive pressures from large customers"),
    case("high-value-expansion-seats",
         "We're rolling TeamFlow out to our APAC offices next quarter and want to add 250 more seats. "
         "Who can we talk to about volume pricing?", plan="pro",
         klass="high-value", rule="high-value-expansion", criterion="Expansion opportunity discussions"),

    # ------------------------------------------------------------------ Technical Issues
    case("technical-unresolved-24h",
         "Recurring tasks are being created on the wrong weekday for users in Auckland.", plan="pro",
         unresolved_hours=24,
         klass="technical", rule="technical-unresolved-24h",
         criterion="Unresolved technical problems after 24 hours"),
    case("technical-failed-attempts",
         "This is the third time I'm writing in. We cleared the cache, reinstalled the desktop app and "
         "tried everything your agents suggested, and calendar sync is still not working.", plan="basic",
         klass="technical", rule="technical-failed-attempts", criterion="Multiple failed resolution attempts"),
    case("technical-core-bug",
         "Bug: when I drag a task to another column on the board it snaps back and the status doesn't "
         "save.", plan="basic",
         klass="technical", rule="technical-core-bug",
         criterion="Customer-reported bugs affecting core functionality"),
    case("technical-partner-api",
         "Our Jira integration stopped syncing comments yesterday; the Jira side logs 401 responses from "
         "your webhook endpoint.", plan="pro",
         klass="technical", rule="technical-partner-api", criterion="Integration partner API issues"),
    case("technical-performance",
         "Opening a project with more than 500 tasks takes forever, sometimes over a minute, in Chrome and "
         "Firefox.", plan="pro",
         klass="technical", rule="technical-performance", criterion="Performance degradation reports"),

    # ------------------------------------------------------------------ Customer Satisfaction
    case("satisfaction-formal-complaint",
         "I would like to file a formal complaint about the quality of service our team has received this "
         "quarter.", plan="basic",
         klass="satisfaction", rule="satisfaction-formal-complaint",
         criterion="Formal complaints about service quality"),
    case("satisfaction-speak-to-manager",
         "I have explained this three times now to three different people. I want to speak to a manager.",
         plan="basic",
         klass="satisfaction", rule="satisfaction-speak-to-management",
         criterion="Requests to speak with management"),
    case("satisfaction-negative-support-feedback",
         "Really disappointed with your support team. The agent closed my ticket with a copy-pasted "
         "article that has nothing to do with my question.", plan="basic",
         klass="satisfaction", rule="satisfaction-negative-support-feedback",
         criterion="Negative feedback about support experience"),
    case("satisfaction-social-media",
         "Heads up: a customer posted a long thread on Twitter about being locked out of their account "
         "for a week and it is getting a lot of replies. Comms should respond today.",
         klass="satisfaction", rule="satisfaction-social-media",
         criterion="Social media mentions requiring response"),
    case("satisfaction-pro-feature-request",
         "Feature request: could you add an Excel export for the timeline view? We'd use it every week.",
         plan="pro",
         klass="satisfaction", rule="satisfaction-pro-feature-request",
         criterion="Product feature requests from Pro customers", also=("role:product-manager",)),

    # ------------------------------------------------------------------ Tier precedence
    case("precedence-pro-refund-with-breach-is-security",
         "I want a refund for this month. After your data breach last week I no longer trust you with our "
         "files.", plan="pro", amount=49,
         klass="security", rule="security-breach"),
    case("precedence-enterprise-feature-request-is-enterprise",
         "It would be great if you could add dark mode to the mobile app.", plan="enterprise",
         klass="enterprise", rule="enterprise-any-issue"),
    case("precedence-50k-account-slow-dashboard-is-high-value",
         "Dashboards are slow, 20+ seconds to render the portfolio view.", plan="pro", acv=50001,
         klass="high-value", rule="high-value-acv"),
    case("precedence-outage-beats-enterprise",
         "Your site is down for all of our 2,000 users.", plan="enterprise", acv=250000,
         klass="outage", rule="outage-platform"),

    # ------------------------------------------------------------------ Thresholds on both sides
    case("refund-exactly-1000-is-billing-dispute",
         "Please refund the $1,000 we paid for the onboarding package, the sessions never took place.",
         plan="pro", amount=1000,
         klass="financial", rule="financial-billing-dispute", not_also=("role:finance-director",)),
    case("refund-1000.01-is-large-refund",
         "Please refund the $1,000.01 charged for the onboarding package plus tax.", plan="pro",
         amount=1000.01,
         klass="financial", rule="financial-large-refund", also=("role:finance-director",)),
    case("unresolved-23h-is-not-yet-escalated",
         "Recurring tasks are being created on the wrong weekday for users in Auckland.", plan="pro",
         unresolved_hours=23,
         klass="technical", rule=DEFAULT, needs_review=True),
    case("basic-plan-feature-request-is-not-the-pro-rule",
         "Feature request: please add a dark mode.", plan="basic",
         klass="technical", rule=DEFAULT, needs_review=True),
    case("acv-exactly-50k-is-not-high-value",
         "The reporting dashboard has been really slow to load since Monday.", plan="pro", acv=50000,
         klass="technical", rule="technical-performance"),

    # ------------------------------------------------------------------ Monitoring alerts
    case("alert-severity-critical-is-outage",
         "[FIRING:1] KubePodCrashLooping prod/task-worker-7d9f restarted 14 times in 10m",
         labels={"alertname": "KubePodCrashLooping", "severity": "critical", "namespace": "prod"},
         klass="outage", rule="outage-critical-alert"),
    case("alert-category-security-is-security",
         "[FIRING:1] AuthFailureSpike: 540 failed sign-ins per minute for tenant 4411",
         labels={"alertname": "AuthFailureSpike", "severity": "critical", "category": "security"},
         klass="security", rule="security-alert-labels"),
    case("alert-severity-warning-only-is-default",
         "[FIRING:1] DiskSpaceLow: /var/lib/postgresql above 80% on db-replica-2",
         labels={"alertname": "DiskSpaceLow", "severity": "warning"},
         klass="technical", rule=DEFAULT, needs_review=True),

    # ------------------------------------------------------------------ Negations and uncertainty
    case("negated-not-a-breach-password-reset",
         "this is not a breach, just a password reset question",
         klass="technical", rule=DEFAULT, needs_review=True, negated=("security-breach",)),
    case("negated-no-data-was-lost",
         "The CSV export stopped halfway through. No data was lost, we just need the full file for "
         "tomorrow's board meeting.", plan="pro",
         klass="technical", rule=DEFAULT, needs_review=True, negated=("security-data-loss",)),
    case("negated-not-going-to-sue-invoice",
         "We are not going to sue anyone, we just want the invoice fixed: you charged us twice for March.",
         plan="basic",
         klass="financial", rule="financial-billing-dispute", negated=("legal-threat",)),
    case("uncertain-dont-know-if-data-exposed-still-security",
         "We don't know if any data was exposed, but a former contractor still had access to our "
         "workspace for two weeks after we removed him.", plan="pro",
         klass="security", rule="security-breach"),
    case("negation-in-earlier-clause-outage",
         "No outage on our side, but your API is returning 503 errors", plan="pro",
         klass="outage", rule="outage-api", negated=("outage-platform",)),
    case("negated-migrate-without-data-loss",
         "Can we move our projects to the EU region without data loss? Planning for next month.",
         plan="pro",
         klass="technical", rule=DEFAULT, needs_review=True, negated=("security-data-loss",)),

    # ------------------------------------------------------------------ Weak and unmatched
    case("weak-suspicious-audit-log",
         "I saw something suspicious in our audit log",
         klass="security", rule="security-possible", needs_review=True),
    case("nothing-matches-default",
         "How do I change the colour of a project label?", plan="basic",
         klass="technical", rule=DEFAULT, needs_review=True),

    # ------------------------------------------------------------------ Look-alikes that are not the criterion
    case("lookalike-workaround-hack-is-not-security",
         "Is there a quick hack to bulk-move tasks between projects? Doing it one by one takes ages.",
         plan="basic",
         klass="technical", rule=DEFAULT, needs_review=True),
    case("lookalike-expand-subtasks-is-not-expansion",
         "Clicking the arrow to expand subtasks does nothing in list view.", plan="basic",
         klass="technical", rule=DEFAULT, needs_review=True),
    case("lookalike-sue-the-colleague-is-not-legal",
         "Sue from our accounting team needs admin rights so she can export timesheets.", plan="pro",
         klass="technical", rule=DEFAULT, needs_review=True),
    case("lookalike-favicon-ico-is-not-a-regulator",
         "Our custom favicon.ico no longer shows on the portal since the update.", plan="pro",
         klass="technical", rule=DEFAULT, needs_review=True),
    case("lookalike-sla-breached-pro-is-not-security",
         "You breached our SLA twice this quarter, the status page shows 7 hours of downtime.",
         klass="enterprise", rule="enterprise-sla-violation"),
    case("lookalike-breach-of-contract-is-legal-not-security",
         "Removing the API export from our plan mid-term is a breach of contract.", plan="pro",
         klass="legal", rule="legal-threat"),
    # ... and the real thing next to each narrowed phrase still matches
    case("still-matches-we-will-sue",
         "Your scheduling bug cost us a client. We will sue if nobody responds by Monday.", plan="pro",
         klass="legal", rule="legal-threat", words=("sue",)),
    case("still-matches-the-ico",
         "The ICO has written to us about a complaint from one of our employees regarding your time "
         "tracking feature.", plan="pro",
         klass="legal", rule="legal-regulatory-inquiry", words=("ico",)),
    case("still-matches-expand-our-usage",
         "We want to expand our usage to the marketing and sales teams next month, about 60 people.",
         plan="pro",
         klass="high-value", rule="high-value-expansion"),
    case("still-matches-hackers",
         "Hackers got into our owner account and deleted two projects.", plan="basic",
         klass="security", rule="security-breach"),

    # ------------------------------------------------------------------ Issue 19: concepts, not phrases
    # Written for the concepts of routing.toml, in words of their own (never the held-out set's).
    case("concept-signed-in-without-authorization",
         "Somebody signed in to our owner account without our authorization last night.",
         klass="security", rule="security-breach", words=("signed in ... without our authorization",)),
    case("concept-sign-ins-from-foreign-ip",
         "We're seeing sign-ins to the admin panel from a foreign IP range that our staff never use.",
         klass="security", rule="security-malicious-activity"),
    case("concept-token-committed-to-gitlab",
         "A deploy token for our workspace got committed to a public GitLab project by mistake.",
         klass="security", rule="security-breach"),
    case("concept-another-company-views-our-boards",
         "A person from another company can view our private boards.",
         klass="security", rule="security-breach"),
    case("concept-sign-ins-from-uninvited-accounts",
         "There are sign-ins to our workspace from user accounts we never invited.",
         klass="security", rule="security-breach"),
    case("concept-boards-deleted-from-a-login-not-ours",
         "Boards are being deleted one after another from a login that is not ours.",
         klass="security", rule="security-breach"),
    case("concept-simultaneous-sessions",
         "Two simultaneous sessions for one of our admins, one in Toronto and one in Jakarta.",
         klass="security", rule="security-malicious-activity"),
    case("concept-attachments-vanished",
         "Every attachment on the client board vanished after last night's update.",
         klass="security", rule="security-data-loss"),
    case("concept-descriptions-gibberish",
         "Since the import, our task descriptions are full of gibberish and unreadable.",
         klass="security", rule="security-data-loss"),
    case("concept-email-notifications-dead",
         "Email notifications are dead for the whole team since lunch.",
         klass="outage", rule="outage-platform"),
    case("concept-no-one-can-open-a-board",
         "No one at our firm, or at our two sister firms, can open a single board right now.",
         klass="outage", rule="outage-platform"),
    case("concept-refusing-connections",
         "app.teamflow.com is refusing connections from every office we have.",
         klass="outage", rule="outage-platform"),
    case("concept-api-went-down",
         "Your public API went down again about ten minutes ago",
         klass="outage", rule="outage-api"),
    case("concept-database-pool-exhausted",
         "The app says 'database connection pool exhausted' on every page.",
         klass="outage", rule="outage-database"),
    case("concept-logo-without-consent",
         "Somebody is using our company logo in your template gallery without our consent.",
         klass="legal", rule="legal-intellectual-property"),
    case("concept-letter-from-a-regulator",
         "A letter from the Data Protection Commission asks how we move employee records outside the EU.",
         klass="legal", rule="legal-regulatory-inquiry"),
    case("concept-take-you-to-court",
         "Fix this or we will take you to court over the lost revenue.",
         klass="legal", rule="legal-threat"),
    case("concept-erase-under-gdpr-is-legal-not-data-loss",
         "Per GDPR, erase everything you hold about me, including backups.",
         klass="legal", rule="legal-gdpr-erasure"),
    case("concept-police-request",
         "The police sent a request for the chat logs of one of our users.",
         klass="legal", rule="legal-subpoena"),
    case("concept-enterprise-workspace",
         "Our enterprise workspace keeps logging everyone out after five minutes.",
         klass="enterprise", rule="enterprise-mentioned"),
    case("concept-sla-service-credits",
         "Uptime was 99.1% last month versus the 99.9% in our SLA; please apply service credits.",
         klass="enterprise", rule="enterprise-sla-violation"),
    case("concept-custom-connector",
         "The custom connector you built for our Oracle ERP stopped posting invoices.",
         klass="enterprise", rule="enterprise-custom-integration"),
    case("concept-card-payments-declined",
         "Every credit card payment on the upgrade page is declined with 'processor error'.",
         klass="financial", rule="financial-payment-processor"),
    case("concept-kanban-cards-are-not-payments",
         "Cards on the sprint board are broken after the update, they snap back to the first column.",
         klass="technical", rule="technical-core-bug"),
    case("concept-duplicate-invoices-to-many-customers",
         "Our billing run sent duplicate invoices to roughly 300 customers this morning.",
         klass="financial", rule="financial-billing-errors-multiple-text"),
    case("concept-revenue-booked-in-one-month",
         "Annual contracts are being booked entirely in January; revenue for the quarter is overstated.",
         klass="financial", rule="financial-revenue-recognition"),
    case("concept-amend-order-form-is-a-request-not-a-hypothetical",
         "Could we amend the order form so we pay quarterly instead of yearly?",
         klass="financial", rule="financial-contract-modification"),
    case("concept-fortune-500-in-text",
         "We're a Fortune 500 insurer and our approvals workflow keeps resetting.",
         klass="high-value", rule="high-value-fortune-500-text"),
    case("concept-migrate-away",
         "Leadership wants to migrate away from TeamFlow when the contract ends.",
         klass="high-value", rule="high-value-churn"),
    case("concept-call-from-supervisor",
         "I'd like a call from your support supervisor today.",
         klass="satisfaction", rule="satisfaction-speak-to-management"),
    case("concept-condescending-agent",
         "The support agent was condescending and unhelpful.",
         klass="satisfaction", rule="satisfaction-negative-support-feedback"),
    case("concept-pro-plan-named-in-text",
         "Pro plan here - it would be nice to have recurring subtasks.",
         klass="satisfaction", rule="satisfaction-pro-feature-request-text", also=("role:product-manager",)),
    case("concept-a-full-volume-is-not-an-infrastructure-failure",
         "Volume /data on ci-runner-3 is 94% full",
         klass="technical", rule=DEFAULT, needs_review=True),
    case("concept-drop-down-is-not-down",
         "The drop-down for assignees in the app is empty.",
         klass="technical", rule=DEFAULT, needs_review=True),
    case("concept-alert-named-for-impossible-travel",
         "Admin sign-in from two cities 9000 km apart within 10 minutes",
         labels={"alertname": "AdminImpossibleTravel", "severity": "warning"},
         klass="security", rule="security-alert-name"),
    case("concept-critical-alert-yields-to-its-text",
         "Secret scanner: production access token for workspace 2231 found in a public GitHub gist",
         labels={"alertname": "SecretScanner", "severity": "critical"},
         klass="security", rule="security-breach"),

    # ------------------------------------------------------------------ Issue 19: hedged mentions page nobody
    case("hypothetical-what-would-happen-if",
         "What would happen if an attacker stole one of our API tokens?",
         klass="technical", rule=DEFAULT, needs_review=True, hypothetical=("security-malicious-activity",)),
    case("hypothetical-in-case-platform-goes-down",
         "In case your platform goes down during our launch, who do we call?",
         klass="technical", rule=DEFAULT, needs_review=True, hypothetical=("outage-platform",)),
    case("hypothetical-court-order",
         "Hypothetically, would a court order from a US judge make you hand over our files?",
         klass="technical", rule=DEFAULT, needs_review=True, hypothetical=("legal-subpoena",)),
    case("hypothetical-could-a-malicious-extension",
         "Could a malicious browser extension read our boards?",
         klass="technical", rule=DEFAULT, needs_review=True, hypothetical=("security-malicious-activity",)),
    case("hypothetical-what-if-password-leaked",
         "What if someone leaked our password?",
         klass="technical", rule=DEFAULT, needs_review=True, hypothetical=("security-breach",)),
    case("negated-nobody-hacked-us",
         "Nobody has hacked us, we just want to rotate our API keys.",
         klass="technical", rule=DEFAULT, needs_review=True, negated=("security-breach",)),
    case("negated-site-is-not-down-just-slow",
         "The site isn't down, it is just slow on the reports page.",
         klass="technical", rule="technical-performance", negated=("outage-platform",)),
    case("negated-nothing-leaked-soc2-report-request",
         "Nobody's been locked out and nothing leaked; we only need a copy of the SOC 2 report.",
         klass="technical", rule=DEFAULT, needs_review=True, negated=("security-possible",)),
    case("uncertain-not-sure-whether-records-leaked-still-security",
         "Not sure whether our customer records were leaked, but the sharing link was public for a week.",
         klass="security", rule="security-breach"),

    # ------------------------------------------------------------------ Issue 19: the safety bias
    case("bias-security-mention-without-a-confident-rule",
         "We think something leaked from our workspace, not sure what yet.",
         klass="security", rule="security-possible", needs_review=True),
    case("bias-control-switched-off",
         "Heads up: the audit trail for our workspace was switched off for a month and nobody told us.",
         klass="security", rule="security-possible", needs_review=True),
    case("bias-outage-mention-outranks-a-confident-enterprise-match",
         "Reports are unreachable for us this morning.", plan="enterprise",
         klass="outage", rule="outage-possible", needs_review=True),
]


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_triage_table(c: Case) -> None:
    result = triage(rules, policy, c.report)
    winner = result.winner
    seen = (result.klass, winner.rule if winner else None, [m.rule for m in result.matches], result.negated)
    assert result.klass == c.klass, seen
    assert result.tier == TIER[c.klass] == policy.classes[c.klass].tier
    if c.rule is DEFAULT:
        assert winner is None and result.default_used, seen
        assert result.klass == rules.default_class
    else:
        assert winner is not None and winner.rule == c.rule, seen
        assert not result.default_used
    if c.criterion is not None:
        assert winner.criterion.startswith(c.criterion), winner.criterion
    assert result.needs_review is c.needs_review, seen
    for words in c.words:
        assert any(words in w.lower() for w in winner.words), winner.words
    for audience in c.also:
        assert audience in result.also, result.also
    for audience in c.not_also:
        assert audience not in result.also, result.also
    suppressed = {rule for rule, _, _ in result.negated}
    for rule in c.negated:
        assert rule in suppressed, result.negated
    maybe = {rule for rule, _, _ in result.hypothetical}
    for rule in c.hypothetical:
        assert rule in maybe, result.hypothetical


SEED_CRITERIA = {  # the seed's "Escalation Criteria", verbatim: 8 categories x 5 bullet points
    "Suspected data breach or unauthorized access", "Customer reports potential security vulnerability",
    "Malicious activity detected on customer accounts", "Data loss or corruption affecting customer data",
    "Compliance violations (GDPR, HIPAA, SOC 2)",
    "Platform-wide service disruption", "API downtime affecting multiple customers",
    "Critical infrastructure failures", "Database connectivity issues", "CDN or hosting provider problems",
    "Legal threats or litigation mentions", "Regulatory compliance inquiries",
    "Subpoenas or legal document requests", 'Data deletion requests under GDPR "Right to be Forgotten"',
    "Intellectual property disputes",
    "Any issue affecting Enterprise customers", "SLA violations for Enterprise accounts",
    "Dedicated success manager requests", "Custom integration problems", "White-label deployment issues",
    "Billing system errors affecting multiple customers", "Payment processor failures",
    "Refund requests over $1,000", "Revenue recognition issues", "Contract modification requests",
    "Customers with >$50k annual contract value", "Fortune 500 company issues",
    "Potential churn indicators for major accounts", "Competitive pressures from large customers",
    "Expansion opportunity discussions",
    "Unresolved technical problems after 24 hours", "Multiple failed resolution attempts",
    "Customer-reported bugs affecting core functionality", "Integration partner API issues",
    "Performance degradation reports",
    "Formal complaints about service quality", "Requests to speak with management",
    "Negative feedback about support experience", "Social media mentions requiring response",
    "Product feature requests from Pro customers",
}


def test_every_seed_criterion_has_a_case() -> None:
    assert len(SEED_CRITERIA) == 40
    assert {c.criterion for c in CASES if c.criterion} == SEED_CRITERIA
