"""Developer scripts, run as modules from the project directory (``python -m scripts.<name>``)."""
