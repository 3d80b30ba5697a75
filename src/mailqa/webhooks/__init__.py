"""Webhooks: signing (Standard Webhooks) and the loop that delivers the outbox.

The events are written by the store, in the transactions that cause them
(``mailqa.store.webhooks``); the subscriptions are managed by ``mailqa.usecases.webhooks``.
"""
