"""notify: an incident notification dispatcher (distribution `teamflow-notify`).

The CLI lives in :mod:`dispatcher.cli`; the channel plugin contract in
:mod:`dispatcher.api`. Importing this package imports nothing else.
"""
