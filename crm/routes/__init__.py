"""The CRM's REST routes, one module per concept; :mod:`crm.http` puts them into the app."""
