"""notify: an incident notification dispatcher (distribution `teamflow-notify`).

The CLI lives in :mod:`dispatcher.cli`; the channel plugin contract in
:mod:`dispatcher.api`; every error notify raises, as one tree, in
:mod:`dispatcher.errors`. Importing this package imports nothing else.
"""
