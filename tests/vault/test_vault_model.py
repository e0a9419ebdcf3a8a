"""A stateful property test: any sequence of edits, from two open vaults, matches a plain in-memory model."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from native_host.vault import VaultFile
from native_host.vault.entry import Entry

from .conftest import PASSWORD, SECRET_160

ORIGINS = ["https://jira.example.com", "https://wiki.example.com", "http://localhost:8080"]
names = st.text(alphabet="abcdefgh :", max_size=8)


class VaultModel(RuleBasedStateMachine):
    """Two UnlockedVaults on one file (two hosts) against a dict of expected entries."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.TemporaryDirectory(prefix="vault-model-")
        self.path = Path(self.dir.name) / "vault.json"
        first = VaultFile(self.path).create(PASSWORD, kdf_cost="minimum")
        self.vaults = [first, VaultFile(self.path).unlock(PASSWORD)]
        self.model: dict[str, dict] = {}

    def teardown(self) -> None:
        self.dir.cleanup()

    @rule(which=st.integers(0, 1), issuer=names, origins=st.lists(st.sampled_from(ORIGINS), unique=True))
    def add(self, which, issuer, origins):
        entry = self.vaults[which].add(Entry(secret=SECRET_160, issuer=issuer, origins=origins))
        self.model[entry.id] = {"issuer": issuer, "origins": origins}

    @precondition(lambda self: self.model)
    @rule(which=st.integers(0, 1), data=st.data())
    def remove(self, which, data):
        entry_id = data.draw(st.sampled_from(sorted(self.model)))
        self.vaults[which].remove(entry_id)
        del self.model[entry_id]

    @precondition(lambda self: self.model)
    @rule(which=st.integers(0, 1), issuer=names, data=st.data())
    def rename(self, which, issuer, data):
        entry_id = data.draw(st.sampled_from(sorted(self.model)))
        self.vaults[which].update(entry_id, issuer=issuer)
        self.model[entry_id]["issuer"] = issuer

    @precondition(lambda self: self.model)
    @rule(which=st.integers(0, 1), origin=st.sampled_from(ORIGINS), data=st.data())
    def bind(self, which, origin, data):
        entry_id = data.draw(st.sampled_from(sorted(self.model)))
        self.vaults[which].bind_origin(entry_id, origin)
        if origin not in self.model[entry_id]["origins"]:
            self.model[entry_id]["origins"] = [*self.model[entry_id]["origins"], origin]

    def _check(self, vault) -> None:
        seen = {e.id: {"issuer": e.issuer, "origins": e.origins} for e in vault.entries()}
        assert seen == self.model
        for origin in ORIGINS:
            expected = sorted(i for i, m in self.model.items() if origin in m["origins"])
            assert sorted(e.id for e in vault.entries_for_origin(origin)) == expected

    @rule(which=st.integers(0, 1))
    def read_through_an_open_vault(self, which):
        # A rule, not an invariant: reading refreshes a vault, and the edits must also be right without it.
        self._check(self.vaults[which])

    @invariant()
    def the_file_agrees_with_the_model(self):
        self._check(VaultFile(self.path).unlock(PASSWORD))


VaultModel.TestCase.settings = settings(max_examples=15, stateful_step_count=12, deadline=None)
test_edits_from_two_open_vaults_match_the_model = VaultModel.TestCase
