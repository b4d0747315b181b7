"""Runnable examples: the bundled tools file, and two agents of your own to put behind the
chats with CLEARANCE_GRAPH (they need `pip install 'clearance[agents]'`)."""
