"""Requests: their types and forms, filing, the lifecycle (the one writer of status and history),
scheduling of future requests, followers, attachments and the queries that list them."""
