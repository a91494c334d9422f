"""App: the use cases, each one sentence over config/, domain/, render/, the store and the sender.

Owns trigger (:mod:`.engine`: load the setup, build the incident, plan,
render, store, send, report), acknowledge, update, resolve and the timers
firing (:mod:`.incidents`), monitoring events into incidents (:mod:`.ingest`,
:mod:`.inbox`), the worker's idempotent tick (:mod:`.worker`), `notify test`
(:mod:`.contact_test`), `notify check` (:mod:`.check`) and the JSON documents
every command prints (:mod:`.report`, :mod:`.views`). The only code that
touches both the store and the sender; cli/ and server/ call it.
"""
