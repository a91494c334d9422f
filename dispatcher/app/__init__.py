"""App: the use cases, each one sentence over config/, domain/, render/, the store and the sender.

Owns trigger (:mod:`.engine`: load the setup, build the incident, plan,
render, store, send, report), acknowledge, update, resolve and the timers
firing (:mod:`.incidents`), monitoring events into incidents (:mod:`.ingest`,
:mod:`.inbox`), the worker's idempotent tick (:mod:`.worker`), `notify test`
(:mod:`.contact_test`), `notify check` (:mod:`.check`), a drill
(:mod:`.drill`, its report in :mod:`.drill_report`) and the JSON documents
and tables every command prints (:mod:`.report`, :mod:`.views`,
:mod:`.tables`). The only code that touches both the store and the sender;
cli/ and server/ call it, and reach the layers below only through its doors:
the store (:mod:`.stores`), webhook bodies (:mod:`.webhooks`), option values
(:mod:`.inputs`) and the terminal (:mod:`.terminal`).
"""
