"""Every error notify raises on purpose, as one tree under :class:`NotifyError`.

Each class says what went wrong, and carries the HTTP status the server answers
(``http_status``) and the exit status a command ends with (``exit_status``), so
``server/`` and ``cli/`` choose them by type, never by reading a message::

    NotifyError                     exit 2  HTTP 500  (no bare NotifyError is raised)
     ├── ConfigError                exit 2  HTTP 422  configuration that cannot be used: .problems, by file and key
     ├── InputError                 exit 2  HTTP 422  one field of an incident or request is invalid: .field, .problem
     │    └── PayloadError          exit 2  HTTP 422  a webhook body (HTTP 400 when the body itself is not JSON)
     ├── IncidentError              exit 2  HTTP 409  an incident cannot take this action: .incident_id
     │    ├── IncidentNotFound      exit 2  HTTP 404  no incident has this id
     │    └── IncidentClosed        exit 2  HTTP 409  the incident is resolved: no more updates
     ├── LinkGone                   exit 2  HTTP 404  an action link nobody issued (or long forgotten)
     │    └── LinkExpired           exit 2  HTTP 410  an action link past its expiry, or its incident resolved
     ├── StoreError                 exit 2  HTTP 503  the store is unavailable (cannot be opened or used): retry later
     │    ├── StoreRejected         exit 2  HTTP 422  the store refuses a value for good: retrying cannot help
     │    └── StoreBehind           exit 2  HTTP 503  the store's schema is older than this program: `notify db upgrade`
     ├── TemplateError              exit 2  HTTP 500  a template could not be rendered: .problem
     ├── SilenceNotFound            exit 2  HTTP 404  no silence or maintenance window has this id
     ├── NotYours                   exit 2  HTTP 403  a personal token asked to act as someone else: .holder, .asked
     └── RemoteError                exit 2  HTTP 502  `notify serve` (NOTIFY_SERVER_URL) refused or failed a request

    AlreadyHandled                  not an error: a signed request was handled before (its first answer is replayed)

Outside the tree, on purpose: server/app.py's HTTPError (and its StoreTimeout) and
server/auth.py's Refusal are HTTP answers already, status included; ClientGone
says the connection closed. They never leave the server.

Every rejection exits 2 ("rejected before anything was sent", `notify --help`):
the exit statuses 1 and 3 are reports of deliveries, not errors. The classes
are defined here, importable from every layer (a "basic", with api, clock and
eventlog); the modules that raise them re-export them under their old homes
(``dispatcher.store.StoreError``, ``dispatcher.config.problems.ConfigError``...).
Standard library only, and nothing of the project.
"""

from __future__ import annotations

from typing import Any, Sequence

__all__ = ["AlreadyHandled", "ConfigError", "IncidentClosed", "IncidentError", "IncidentNotFound", "InputError",
           "LinkExpired", "LinkGone", "NotYours", "NotifyError", "PayloadError", "RemoteError", "SilenceNotFound",
           "StoreBehind", "StoreError", "StoreRejected", "TemplateError"]

EXIT_REJECTED = 2  # input, configuration or state refused, nothing was sent


class NotifyError(Exception):
    """The root: an error notify raises on purpose, with the statuses that answer it."""

    http_status = 500
    exit_status = EXIT_REJECTED


class ConfigError(NotifyError):
    """Configuration that cannot be used; carries every problem found (config.problems.Problem)."""

    http_status = 422

    def __init__(self, problems: Sequence[Any]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in problems))


class InputError(NotifyError, ValueError):
    """One field of the input is invalid; ``str(self)`` is "field: problem", naming the field as given."""

    http_status = 422

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class PayloadError(InputError):
    """A webhook body that cannot become an alert event; the server answers 422 (400 for the body itself)."""

    @property  # type: ignore[override]
    def http_status(self) -> int:  # the body is not a JSON object at all: a bad request, not a bad field
        return 400 if self.field == "body" else 422


class IncidentError(NotifyError):
    """An incident cannot take this action; ``str(self)`` is "id: why"."""

    http_status = 409

    def __init__(self, incident_id: str, problem: str) -> None:
        super().__init__(f"{incident_id}: {problem}")
        self.incident_id = incident_id
        self.problem = problem


class IncidentNotFound(IncidentError):
    """No incident has this id."""

    http_status = 404

    def __init__(self, incident_id: str) -> None:
        super().__init__(incident_id, "no such incident")


class IncidentClosed(IncidentError):
    """The incident is resolved: it takes no more updates."""


class LinkGone(NotifyError):
    """An action link that acts on nothing: no such link was issued, or it was forgotten long after it expired."""

    http_status = 404


class LinkExpired(LinkGone):
    """An action link that worked once and no longer does: past its expiry, or its incident is resolved."""

    http_status = 410


class StoreError(NotifyError):
    """The store cannot be opened or used (unavailable); the message says which and why."""

    http_status = 503


class StoreRejected(StoreError):
    """The store refuses a value for good (a NUL in text, a value too large): retrying cannot help."""

    http_status = 422


class StoreBehind(StoreError):
    """The store's schema is older than this program: run `notify db upgrade`."""


class TemplateError(NotifyError):
    """A template could not be rendered; ``problem`` (render.templates.TemplateProblem) says where and why."""

    def __init__(self, problem: Any) -> None:
        super().__init__(str(problem))
        self.problem = problem


class SilenceNotFound(NotifyError):
    """No silence or maintenance window has this id."""

    http_status = 404


class NotYours(NotifyError):
    """A personal API token acts for its own person only: a `by` naming someone else is refused, both named."""

    http_status = 403

    def __init__(self, holder: str, asked: str) -> None:
        super().__init__(f"this token acts for {holder}; it cannot act as {asked!r} (drop --by/NOTIFY_USER, "
                         "or use that person's own token)")
        self.holder, self.asked = holder, asked


class RemoteError(NotifyError):
    """`notify serve` at NOTIFY_SERVER_URL refused the request or could not be reached; it says which and why."""

    http_status = 502

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AlreadyHandled(Exception):
    """A signed request was handled before: its effect is already stored, and this one wrote nothing.

    Not a NotifyError: nothing went wrong, the server answers the replay with the first answer.
    """
