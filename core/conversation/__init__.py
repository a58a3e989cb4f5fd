"""The conversation on a request: the chat, who is told what by mail, answers by mail (intake) and reminders."""
