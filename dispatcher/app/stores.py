"""The store as cli/ and server/ see it: how to open one, its protocol type, its URL masked for output,
and how long it remembers a signed request (replay protection).

A thin door onto :mod:`dispatcher.store`, so that the layers above app/ never
import the store's modules: the use cases take the opened store, and its
errors are the :mod:`dispatcher.errors` tree (StoreError, StoreBehind...).
"""

from __future__ import annotations

from ..store import Store, open_store, peek_store
from ..store.requests_sql import REQUESTS_KEEP
from ..store.urls import mask_store_url

__all__ = ["REQUESTS_KEEP", "Store", "mask_store_url", "open_store", "peek_store"]
