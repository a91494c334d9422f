"""Issue 23: what a template's facts cost (app/facts.py).

A notice whose template asks `incident.recorded.*` or `incident.status_page` adds one read: customer_reached or
latest_on, timed here on a 2,000-delivery incident, against reading the incident's whole delivery list (what
the first version did, once per notice).

    .venv/bin/python bench/bench_facts.py [STORE_URL]   # default: a new SQLite file
"""
import sys
import tempfile
import time
from datetime import UTC, datetime

from dispatcher.store import NewDelivery, open_store

url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tempfile.mkdtemp()}/b.db"
store = open_store(url)
now = datetime.now(UTC)
rows = [NewDelivery("0", 0, f"p{i:04d}", f"P {i}", "load", "webhook", "t", "t", "email") for i in range(2000)]
iid, _ = store.open_incident({"id": "", "class": "technical", "drill": False, "dedup_key": "", "started": now,
                              "fields": {"summary": "x"}}, rows, prefix="TEC", year=2026, now=now)
for name, call in (("customer_reached", lambda: store.customer_reached(iid)),
                   ("latest_on", lambda: store.latest_on(iid, ["statuspage", "statushook"])),
                   ("deliveries (before the fix)", lambda: store.deliveries(iid))):
    n = 200 if name.startswith("deliveries") else 2000
    t = time.perf_counter()
    for _ in range(n):
        call()
    print(f"{name}: {(time.perf_counter() - t) / n * 1e3:.3f} ms per call")
store.close()
