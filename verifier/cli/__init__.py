"""The verifier's sub-commands of ``tracker2fa`` (``verifier``, ``mock``, ``gate``), plugged in by entry point.

pyproject.toml declares them in the ``tracker2fa.commands`` group with the ``verifier`` extra, so the CLI
core (which never imports this package) can name the extra when FastAPI or uvicorn is missing. Modules here
import only the standard library at the top: building ``tracker2fa --help`` must not load FastAPI.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable

from ..errors import VerifierError

Handler = Callable[[argparse.Namespace], int]


def reporting_errors(handler: Handler) -> Handler:
    """Print the verifier's errors as the CLI core prints its own (one line on stderr) and exit 1."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except VerifierError as exc:
            print(f"tracker2fa: error: {exc.message}", file=sys.stderr)
            return 1

    return run
