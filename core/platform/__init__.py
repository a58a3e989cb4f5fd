"""The platform: what every part of the portal stands on and nothing of the domain.

The database, the outbox (background jobs, stored and retried), the settings, file storage, sending mail
over SMTP, the clock, gettext and the error types. Nothing here knows what a request is; the domain
packages above it do.
"""
