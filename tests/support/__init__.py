"""Helpers the test areas share: servers on loopback, the running stack, throw-away
databases and test messages. Fixtures stay in the areas' conftest.py files."""
