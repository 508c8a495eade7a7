"""Deployment: the merge template and IAM policy `chalice package --stage prod` combines (docs/deploy.md)."""
