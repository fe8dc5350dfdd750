"""Installs the privacy tests' network guard in every Python process started with this folder
on PYTHONPATH (see tests/netguard.py); does nothing unless NETGUARD_RECORD is set."""

import os

if os.environ.get("NETGUARD_RECORD"):
    from tests.netguard import install_from_env

    install_from_env()
