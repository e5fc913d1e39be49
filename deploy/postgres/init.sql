-- One database per service that keeps state: no service reads another's tables.
CREATE DATABASE checkout;
CREATE DATABASE reservation;
CREATE DATABASE notifier;
