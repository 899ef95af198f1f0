"""Receivers of posts' signals (the webhooks will connect here; none yet)."""
