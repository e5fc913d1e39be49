"""The notifier's adapters: its table, repository, templates, SMTP client, metrics, migrations."""
