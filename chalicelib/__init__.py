"""formula-intake core: domain, services, ports and adapters (no HTTP, no AWS at import)."""
