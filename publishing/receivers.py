"""Posts tell us when a post's public face changes; webhooks follow (publishing.services.webhooks)."""
