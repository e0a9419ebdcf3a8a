"""One Node process per test module that runs the extension's pure modules: a JSON line in, a JSON line out."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class Node:
    """``node(fn, *args)`` calls ``fn`` in the harness script and returns its value; an error is an assertion."""

    def __init__(self, harness: Path) -> None:
        self.proc = subprocess.Popen(
            ["node", str(harness)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )

    def __call__(self, fn: str, *args: Any) -> Any:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"fn": fn, "args": list(args)}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        if "error" in reply:
            raise AssertionError(reply["error"])
        return reply["value"]

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def node_running(harness: Path) -> Iterator[Node]:
    """The body of a module-scoped fixture: Node must be installed (it comes with the machine and .ci/run)."""
    assert shutil.which("node"), "node is needed for the extension's module tests"
    node = Node(harness)
    yield node
    node.close()
