"""The approval flow: messages start runs, decisions resume them. The service validates and
claims decisions; runs drive the graph under the thread lock; the outbox says and shows
things in chats; routing, reminders, edits, previews and executions are its steps."""
