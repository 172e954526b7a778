"""Loopback fakes of the platforms' wire protocols, for tests and demo-style runs."""
