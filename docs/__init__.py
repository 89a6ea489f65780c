"""The recipes page and its runner (docs/conftest.py); a package so its conftest does not shadow tests/conftest.py."""
