"""Model providers. `resolve_model(spec)` in `registry.py` maps a model string to a provider."""
