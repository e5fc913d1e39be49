-- One database per service that keeps state, each owned by that service's own login role: no
-- service connects as the superuser, none can reach another's tables (no service reads another's
-- tables by design; this makes it a rule the server keeps). Run by the postgres image's psql on an
-- empty data directory; the passwords come from the container's environment (docker-compose.yml).
\set ON_ERROR_STOP on

\getenv checkout_password CHECKOUT_DB_PASSWORD
\getenv reservation_password RESERVATION_DB_PASSWORD
\getenv notifier_password NOTIFIER_DB_PASSWORD

-- NOSUPERUSER NOCREATEDB NOCREATEROLE are the defaults; said anyway, as they are the point.
CREATE ROLE checkout LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'checkout_password';
CREATE ROLE reservation LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'reservation_password';
CREATE ROLE notifier LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'notifier_password';

-- The owner creates its schema (migrations, btree_gist: a trusted extension) in its database;
-- PUBLIC loses CONNECT and TEMP, so a service's role cannot even open another's database.
CREATE DATABASE checkout OWNER checkout;
REVOKE ALL ON DATABASE checkout FROM PUBLIC;
CREATE DATABASE reservation OWNER reservation;
REVOKE ALL ON DATABASE reservation FROM PUBLIC;
CREATE DATABASE notifier OWNER notifier;
REVOKE ALL ON DATABASE notifier FROM PUBLIC;
