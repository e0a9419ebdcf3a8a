"""tracker2fa: the parts that run on the user's machine (native-messaging host, vault, CLI)."""

__version__ = "0.1.0"

# The Chromium id of the development extension, derived from `key` in extension/manifest.json.
DEV_EXTENSION_ID = "cbfailhijbndifbpgimfdbkbjkiognal"
# The fixed add-on id Firefox knows the extension by (browser_specific_settings.gecko.id).
GECKO_EXTENSION_ID = "tracker2fa@tracker2fa.dev"
# The native-messaging host name (file name of the host manifest, minus ".json").
HOST_NAME = "dev.tracker2fa.host"
