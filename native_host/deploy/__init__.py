"""Native-host deployment: browser locations, host manifests, per-user install/uninstall and the doctor.

Modules: ``browsers`` (the supported browsers and where each reads manifests), ``manifest`` (content,
host-path checks, writing and inspecting a manifest), ``registration`` (install, uninstall, doctor).
"""
