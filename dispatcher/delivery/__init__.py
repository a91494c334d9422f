"""Delivery: getting a rendered notice to a channel, exactly once as far as a provider allows.

Owns the sender (:mod:`.sender`: lease from the outbox, attempt, record,
retry or fall back), the retry schedules on tenacity (:mod:`.retries`), the
lease keeper that keeps a slow send from being taken over (:mod:`.lease_keeper`)
and the channel registry, found through entry points (:mod:`.registry`).
Never decides who is paged: that is domain/'s plan, stored by app/.
"""
