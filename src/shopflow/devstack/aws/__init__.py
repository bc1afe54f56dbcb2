"""Helpers of the local AWS stand-ins; the public API is ``shopflow.devstack.aws_emulator``."""
