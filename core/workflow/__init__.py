"""The work on requests: the actions people take, automatic fulfilment, and the background jobs' topics."""
