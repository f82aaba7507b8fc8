"""Handoff to hotline (12345) agents: the queue, take-over, agent messages, notes,
work orders and call-back tickets (service.py owns the handoff tables), the
configuration (config.py) and the tracker-store hook that feeds the console
(feed.py). See README "Hotline agents' console"."""
