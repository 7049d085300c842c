"""Real servers for tests, started by fixtures on loopback (no mocks of what can run here)."""
