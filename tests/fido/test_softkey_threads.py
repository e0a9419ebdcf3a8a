"""One software key store used from several threads at once (the host runs ceremonies on worker threads).

The store is reached through several framings at once (two keys over one store, or one key on two
channels): real python-fido2 devices over the software key's CTAPHID framing, each hammered from its
own thread. The GIL's switch interval is shortened so that the threads interleave inside the key's
commands, as they may on a busy machine (an unreproduced host error was traced to this).
"""

from __future__ import annotations

import collections
import os
import sys
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.ctap import CtapError
from fido2.ctap1 import Ctap1
from fido2.ctap2 import Ctap2

from native_host.fido.soft_transports.hid import open_soft_hid_device
from native_host.fido.softkey.authenticator import SoftAuthenticator
from native_host.fido.softkey.store import Credential, KeyStore

RP_ID = "example.com"
ROUNDS = 150  # per thread
PRELOADED = 2000  # credentials of other sites: a lookup walks them all, so threads meet inside it
JOIN_SECONDS = 120.0  # a bound for a hung thread, never a timing assertion


@pytest.fixture
def fine_thread_switching():
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _preloaded_store() -> KeyStore:
    store = KeyStore()
    key = ec.generate_private_key(ec.SECP256R1())  # one key pair is enough for credentials never used
    for _ in range(PRELOADED):
        store.add(Credential(os.urandom(32), key, os.urandom(32)))
    return store


def test_threads_adding_and_signing_on_one_store_never_fail_and_never_repeat_a_counter(fine_thread_switching):
    store = _preloaded_store()
    first, second = SoftAuthenticator(store), SoftAuthenticator(store)  # two keys sharing one store
    maker = Ctap2(open_soft_hid_device(first, path="soft:maker"))
    u2f = Ctap1(open_soft_hid_device(first, path="soft:u2f"))  # the same key on another channel
    signer = Ctap2(open_soft_hid_device(second, path="soft:signer"))
    counters: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()

    def count(counter: int) -> None:
        with lock:
            counters[counter] += 1

    def make() -> None:
        for _ in range(ROUNDS):
            made = maker.make_credential(os.urandom(32), {"id": RP_ID, "name": "Example"},
                                         {"id": os.urandom(8), "name": "u"}, [{"type": "public-key", "alg": -7}],
                                         options={"rk": True})
            count(made.auth_data.counter)

    def register_u2f() -> None:
        for _ in range(ROUNDS):
            u2f.register(os.urandom(32), os.urandom(32))

    def sign() -> None:
        for _ in range(ROUNDS):
            try:  # no allow list: the key looks through every credential for the site's resident ones
                assertion = signer.get_assertion(RP_ID, os.urandom(32))
            except CtapError as exc:
                if exc.code == CtapError.ERR.NO_CREDENTIALS:  # before the first one was made
                    continue
                raise
            count(assertion.auth_data.counter)

    assert run_together(make, register_u2f, sign) == []
    assert [c for c, n in counters.items() if n > 1] == [], "a signature counter was given twice"
    assert len(store.credentials) == PRELOADED + 2 * ROUNDS


def test_concurrent_host_requests_on_the_virtual_key_each_get_their_own_answer(tmp_path, fine_thread_switching):
    """fido.create, fido.get and u2f.sign at once on the virtual key (one open device): each request holds
    the key for the whole ceremony, so no request reads another's reply off the key's channel."""
    from fido2.ctap1 import RegistrationData
    from fido2.server import Fido2Server
    from fido2.utils import websafe_decode, websafe_encode

    from native_host.fido.service import FidoService

    origin, app_id = "http://localhost:8000", "http://localhost:8000/app-id.json"
    service = FidoService({"TRACKER2FA_VIRTUAL_KEY": str(tmp_path / "vkey.json")}, transports=("virtual",))
    server = Fido2Server({"id": "localhost", "name": "Mock tracker"})
    try:
        options, state = server.register_begin({"id": b"alice", "name": "alice"})
        credential = server.register_complete(
            state, service.create({"origin": origin, "options": dict(options.public_key)})).credential_data
        registration = service.u2f_register({"origin": origin, "appId": app_id,
                                             "registerRequests": [{"version": "U2F_V2", "challenge": "Y2hhbA"}]})
        handle = websafe_encode(RegistrationData(websafe_decode(registration["registrationData"])).key_handle)
        rounds = 40

        def create() -> None:
            for i in range(rounds):
                options, state = server.register_begin({"id": b"u%d" % i, "name": "u"})
                server.register_complete(state, service.create({"origin": origin,
                                                                "options": dict(options.public_key)}))

        def get() -> None:
            for _ in range(rounds):
                options, state = server.authenticate_begin([credential])
                server.authenticate_complete(state, [credential], service.get({"origin": origin,
                                                                               "options": dict(options.public_key)}))

        def sign() -> None:
            for _ in range(rounds):
                signed = service.u2f_sign({"origin": origin, "appId": app_id, "challenge": "c2lnbg",
                                           "registeredKeys": [{"version": "U2F_V2", "keyHandle": handle}]})
                assert signed["keyHandle"] == handle

        assert run_together(create, get, sign) == []
    finally:
        service.close()


def run_together(*works) -> list[str]:
    """Run each of ``works`` in its own thread at once; the errors they raised, as "name: Type: message"."""
    errors: list[str] = []

    def guarded(work):
        def run() -> None:
            try:
                work()
            except Exception as exc:
                errors.append(f"{work.__name__}: {type(exc).__name__}: {exc}")
        return run

    threads = [threading.Thread(target=guarded(work), daemon=True) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return errors
