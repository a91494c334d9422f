"""`python -m dispatcher` runs the `notify` command line."""

from .cli import main

main()
