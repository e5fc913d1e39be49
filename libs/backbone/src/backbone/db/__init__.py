"""PostgreSQL access shared by services: a pooled async engine, the inbox and the outbox."""
