"""Schemathesis fuzzes every operation of /openapi.json; no input may cause a server error (5xx).

Bounded to a few dozen examples per operation, on SQLite and PostgreSQL. Requests carry the admin token
(admin operations) or the service token (the rest), so every operation is explored past the 401, and a
seeded user so per-user paths can hit.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from verifier.service import Verifier

from .conftest import fast_settings

ADMIN = {"authorization": "Bearer fuzz-admin-token"}
SERVICE = {"authorization": "Bearer fuzz-service-token"}
EXAMPLES = 30
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def api_schema(store, server_key, clock):
    from verifier.http import create_app
    from verifier.settings import ApiSettings

    verifier = Verifier(store, fast_settings(server_key), clock=clock)
    verifier.create_user("alice", "pw", groups=("dev",))
    verifier.set_policy("all", [], [], 30, actor="fuzz")
    app = create_app(verifier, ApiSettings(admin_token="fuzz-admin-token", service_token="fuzz-service-token",
                                           allowed_hosts=("testserver",)))  # the ASGI client's Host
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def credentials_for(path: str) -> dict[str, str]:
    """The admin token for admin operations, the tracker's service token for the rest."""
    return ADMIN if path.startswith("/v1/admin") else SERVICE


def test_no_input_causes_a_server_error(api_schema):
    # One Hypothesis run per operation inside one test, so the store fixture (SQLite or PostgreSQL) is shared.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            reply = case.call_and_validate(headers=credentials_for(case.operation.path), checks=[not_a_server_error])
            statuses.append(reply.status_code)

        fuzz()
    assert len(statuses) >= 5 * len(operations)  # the fuzzer really ran every operation
    assert all(status < 500 for status in statuses)
