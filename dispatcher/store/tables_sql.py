"""The tables beside the incidents, the outbox and the attempt log: one mixin per family, composed once here.

Each mixin is written against the same primitives as :class:`~.sql_store.SQLStore` (``dialect``,
``_read``, ``_write``, ``_statement``), so a feature's store methods live beside its SQL and the
core store does not grow with every feature.
"""

from __future__ import annotations

from .budgets_sql import RateBudgets
from .heartbeats_sql import HeartbeatsSQL
from .holds_sql import HoldsSQL
from .inbox_sql import InboxSQL
from .links_sql import ActionLinks
from .provider_ids_sql import EarlierDeliveries
from .requests_sql import RequestSeals
from .reviews_sql import ReviewsSQL
from .silences_sql import SilencesSQL
from .tokens_sql import TokensSQL
from .web_sql import WebSQL

__all__ = ["FeatureTables"]


class FeatureTables(InboxSQL, RequestSeals, ActionLinks, TokensSQL, WebSQL, SilencesSQL, HeartbeatsSQL, HoldsSQL,
                    ReviewsSQL, EarlierDeliveries, RateBudgets):
    """Inbox, replay record, links, tokens, web view, silences, heartbeats, holds, reviews, provider ids, budgets."""
