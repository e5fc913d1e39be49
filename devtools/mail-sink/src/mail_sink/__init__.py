"""mail_sink: see the package README."""
