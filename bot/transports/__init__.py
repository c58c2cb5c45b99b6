"""Ways to reach the dispatcher: a terminal chat, long polling and a webhook server."""
