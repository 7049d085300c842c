"""Shared pytest configuration for the arlink test suite."""
