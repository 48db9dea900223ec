"""Notifications: the engine's events become outbox rows, then a worker delivers them.

``templates`` renders subject and body, ``outbox`` keeps the rows in the cnp database,
``channels`` delivers one row (webhook, email, system, log) and ``notifier`` ties them to the
bus: decide (per job ``notification_config``), write the row first, deliver in the background
with bounded concurrency, retries and a rate limit. No textual, no aiohttp.web here.
"""
