"""Channel adapters behind one port (base.Channel): HTTP gateways, SMTP, and the demo inbox."""
