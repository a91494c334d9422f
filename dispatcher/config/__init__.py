"""Config: what the operator wrote, read and validated once, with every problem named by file and key.

Owns where the configuration lives (:mod:`.paths`, :mod:`.ownership`), the
settings from the environment, `.env` and secret files (:mod:`.settings`: the
only reader of the environment), the contact directory (:mod:`.directory`;
its cross-table checks in :mod:`.directory_checks`), the escalation policy
(:mod:`.policy`), the routing rules (:mod:`.routing`; applying them is
domain/triage.py), the last configuration that validated (:mod:`.known_good`)
and the problems validation reports (:mod:`.problems`).
"""
