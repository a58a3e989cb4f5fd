"""Background work: the outbox relay, the Dramatiq broker and actors, and the in-process embedded worker."""
