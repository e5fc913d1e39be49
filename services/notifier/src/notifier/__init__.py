"""notifier: e-mails the user once per reservation fact (see services/notifier/README.md)."""
