"""Tests against real upstream Kubernetes (a package, so its conftest does not shadow tests/conftest.py)."""
