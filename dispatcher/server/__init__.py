"""`notify serve`: the webhook endpoints, the JSON API, health and metrics, and the worker, in one process."""
