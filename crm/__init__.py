"""CRM: contacts per tenant, caller lookup for the screen pop, notes, import/export, webhooks."""
