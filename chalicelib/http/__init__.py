"""HTTP edge helpers: the single error shape, exact-decimal JSON responses, request parsing."""
