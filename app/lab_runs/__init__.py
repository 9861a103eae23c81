"""Lab runs as a web service: the runs table, the queue and its scheduler, limits, and event relay.

The training itself is `labs/` running in its own process (`python -m labs train …`); nothing here
imports torch.
"""
