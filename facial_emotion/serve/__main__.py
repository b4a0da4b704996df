"""`python -m facial_emotion.serve`: see facial_emotion.serve.cli."""

from ..cli import run_main
from .cli import main

run_main(main)
