"""Publishing: the Datasette server and plugin (kb serve) and the explainer site (kb site)."""
