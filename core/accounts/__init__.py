"""Accounts: users, organisations and staff, log-in sessions and API tokens, one-time password links."""
