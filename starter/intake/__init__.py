"""Intake of portal inquiries: parse (JSON, OpenImmo), store raw first, record once, start the workflow."""
