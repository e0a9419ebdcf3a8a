"""A page's WebAuthn options with a huge number are refused before python-fido2 reads them.

python-fido2's ``from_dict`` turns a number found where bytes belong into ``bytes(number)``: without the
check, a page passing ``{"id": 1e12}`` as a key id makes the host allocate that many bytes. The calls run
under an address-space cap, so a missing check shows as a MemoryError here, not as a machine out of memory.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from native_host.fido.ceremonies import webauthn
from native_host.fido.errors import FidoBadRequest
from tests.fido.helpers import ORIGIN, RP_ID
from tests.importers.support import memory_capped

HUGE = 10**12
USER = {"id": "dXNlcg", "name": "ann", "displayName": "Ann"}
CREATE = {"rp": {"id": RP_ID, "name": "T"}, "user": USER, "challenge": "Y2hhbGxlbmdl",
          "pubKeyCredParams": [{"type": "public-key", "alg": -7}]}
GET = {"challenge": "Y2hhbGxlbmdl", "rpId": RP_ID}


@pytest.mark.parametrize("options", [
    {**GET, "allowCredentials": [{"type": "public-key", "id": HUGE}]},
    {**GET, "timeout": float(HUGE)},
    {**GET, "extensions": {"prf": {"eval": {"first": HUGE}}}},
], ids=["key id", "timeout", "prf input"])
def test_request_options_with_a_huge_number_are_refused(options) -> None:
    with memory_capped(), pytest.raises(FidoBadRequest, match="out of range"):
        webauthn.parse_request_options(ORIGIN, options)


@pytest.mark.parametrize("options", [
    {**CREATE, "user": {**USER, "id": HUGE}},
    {**CREATE, "excludeCredentials": [{"type": "public-key", "id": -HUGE}]},
], ids=["user id", "excluded key id"])
def test_creation_options_with_a_huge_number_are_refused(options) -> None:
    with memory_capped(), pytest.raises(FidoBadRequest, match="out of range"):
        webauthn.parse_creation_options(ORIGIN, options)


@given(st.integers(-2**24, 2**24))
def test_ordinary_numbers_pass_the_check(timeout: int) -> None:
    webauthn.refuse_huge_numbers({**GET, "timeout": timeout, "pubKeyCredParams": [{"alg": -257}]})


def test_options_nested_beyond_reason_are_refused() -> None:
    deep: dict = {}
    for _ in range(40):
        deep = {"x": deep}
    with pytest.raises(FidoBadRequest, match="nested too deeply"):
        webauthn.parse_request_options(ORIGIN, {**GET, "extensions": deep})
