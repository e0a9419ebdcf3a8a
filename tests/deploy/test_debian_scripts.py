"""`tracker2fa pack --deb` without building: what it refuses before any work, and the maintainer scripts it
writes (they call the same install and uninstall code an admin runs, for every browser)."""

from __future__ import annotations

import subprocess

import pytest

from native_host import HOST_NAME
from native_host.cli import main as cli_main
from native_host.deploy.browsers import BROWSERS
from native_host.deploy.debian import build_deb, maintainer_scripts
from native_host.deploy.manifest import DeployError


def test_postinst_installs_system_wide_for_every_browser_with_the_ids_given():
    postinst = maintainer_scripts(["a" * 32, "me@example.org"])["postinst"]
    line = next(x.strip() for x in postinst.splitlines() if "install --system" in x and not x.startswith("#"))
    assert line.split()[:5] == [
        "/usr/lib/tracker2fa/bin/tracker2fa", "install", "--system", "--host-path",
        "/usr/lib/tracker2fa/bin/tracker2fa-host",
    ]
    assert all(f"--browser {name}" in line for name in BROWSERS)
    assert line.endswith(f"--extension-id {'a' * 32} --extension-id me@example.org")


def test_prerm_uninstalls_only_on_removal_and_never_blocks_it():
    prerm = maintainer_scripts([])["prerm"]
    assert "remove|deconfigure)" in prerm
    assert "if ! /usr/lib/tracker2fa/bin/tracker2fa uninstall --system; then" in prerm


def test_postrm_purge_removes_every_leftover_of_ours():
    postrm = maintainer_scripts([])["postrm"]
    for folder in {f for b in BROWSERS.values() for f in b.linux_system}:
        assert f"{folder}/{HOST_NAME}.json" in postrm
    assert "/etc/tracker2fa/host.json" in postrm and "/usr/lib/tracker2fa/tracker2fa-host" in postrm


@pytest.mark.parametrize("name", ["postinst", "prerm", "postrm"])
def test_each_maintainer_script_is_valid_posix_shell(name, tmp_path):
    script = tmp_path / name
    script.write_text(maintainer_scripts(["a" * 32])[name])
    assert subprocess.run(["sh", "-n", str(script)], capture_output=True, check=False).returncode == 0


def test_a_bad_extension_id_is_refused_before_anything_is_built(tmp_path):
    with pytest.raises(DeployError, match="is neither a Chromium extension id"):
        build_deb(tmp_path / "out", extension_ids=["a" * 32 + "\n"])
    assert not (tmp_path / "out").exists()


def test_a_malformed_maintainer_is_refused(tmp_path):
    with pytest.raises(DeployError, match="--maintainer must look like"):
        build_deb(tmp_path / "out", maintainer="nobody\nDepends: evil")


def test_pack_without_deb_still_needs_a_key_and_a_base_url(tmp_path, capsys):
    assert cli_main(["pack", "--out", str(tmp_path)]) == 1
    assert "pack needs --key and --base-url" in capsys.readouterr().err
