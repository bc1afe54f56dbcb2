"""Helpers of the local AWS stand-ins; public API: ``shopflow_local.devstack.aws_emulator``."""
