"""Package data: the demo checkpoint and sequence (regenerate with ``python scripts/make_demo_assets.py``)."""
