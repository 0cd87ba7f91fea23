"""Subcommands of ``dra``, one module each, registered through entry points."""
