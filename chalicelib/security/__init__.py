"""Security: API keys and roles, the route policy, and per-principal rate limits."""
