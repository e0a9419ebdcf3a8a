"""Deployment: register the native host with browsers, write admin policies, pack the extension, diagnose.

Where things go: ``platforms`` (the target OS: path syntax, folders, a fake root), ``browsers`` (the
supported browsers), ``layouts`` (manifest locations per OS and scope), ``registry`` (Windows registry
interface, real and fake). Installing: ``manifest`` (content, host checks), ``plan`` (every file and registry
value an install writes), ``apply`` (writing it, the receipt, uninstall), ``registration`` (the entry
points). Admin files: ``managed_schema`` (the extension's settings), ``policy`` and ``regfile`` (policy
files), ``examples`` (the generated ``manifests/`` folder), ``crx`` and ``pack`` (packages). Diagnosis:
``policies_read``, ``probe`` and ``doctor``.
"""
