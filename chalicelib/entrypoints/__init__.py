"""Entry points: the Lambda event handlers, the standalone worker and the dev servers."""
